//! Moving an instance's data off the single-process broker (nisshi 0.8.1) onto a Kafka
//! cluster (#34): [`reader`] reads a nisshi storage file (SQLite, read-only, no nisshi
//! binary); [`moves`] starts a move; [`copy`] copies the file into a Kafka cluster,
//! resumably. Rules in `docs/moving-data.md`.

pub mod copy;
pub mod moves;
pub mod reader;
