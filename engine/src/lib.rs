//! The data plane's engine: what a Kafka cluster of an instance must be, where its nodes run,
//! and the Admin API client the console talks to them with. A crate of its own beside
//! `domain/`: it depends on the domain and on tokio, never on the web server or the database,
//! so the provisioner in `app/src/server/` is a thin adapter over it.
//!
//! - [`layout`]: the cluster's shape as plain rules (node ids, roles, ports, racks, heaps).
//! - [`config`]: a node's `server.properties`, rendered from the layout.
//! - [`host`]: *where* a node runs (a trait; [`host::local`] runs `java` processes here).
//! - [`cluster`]: one instance's nodes on a host: directories, format, start, stop.
//! - [`admin`]: the Kafka Admin API over the internal listener (kafka-protocol's types, our
//!   framing, TLS with a client certificate, routing, retries).
//! - [`heal`] and [`observe`]: what a probe sees of each node, the quorum and the partitions,
//!   and what the control loop does about a node (start, wait, replace).
//! - [`meter`]: traffic from the nodes' own counters (their JMX agent) and data retained.
//! - [`roll`]: the order in which nodes restart, one at a time, each only once the cluster is
//!   healthy again.

pub mod admin;
pub mod cluster;
pub mod config;
pub mod heal;
pub mod host;
pub mod layout;
pub mod meter;
pub mod observe;
pub mod roll;
