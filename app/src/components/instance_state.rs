//! An instance's state as a coloured pill.

use crate::domain::instance::State;
use leptos::prelude::*;

pub fn state_class(state: State) -> &'static str {
    match state {
        State::Running => "status-pill status-ok",
        State::Creating | State::Changing | State::Deleting => "status-pill status-busy",
        State::Suspended => "status-pill status-warn",
        State::Abnormal => "status-pill status-bad",
        State::Deleted => "status-pill status-unactivated",
    }
}

#[component]
pub fn StatePill(state: State) -> impl IntoView {
    view! {
        <span class=state_class(state) data-testid="instance-state">
            {state.as_str()}
        </span>
    }
}
