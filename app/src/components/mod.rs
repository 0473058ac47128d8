//! Small building blocks shared by the pages.

pub mod field;
pub mod format;
pub mod license_banner;
pub mod quota_bar;
