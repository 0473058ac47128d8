//! Small building blocks shared by the pages.

pub mod copy;
pub mod field;
pub mod format;
pub mod instance_state;
pub mod license_banner;
pub mod page_data;
pub mod poll;
pub mod quota_bar;
pub mod select_field;
