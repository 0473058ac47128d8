//! Which page a visitor is sent to instead of the one asked for. One rule for the server's
//! guard (every full page load) and the browser's router (navigation between loads).

/// What the rule needs to know of the one asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visitor {
    /// No administrator exists yet: the console is not set up.
    BeforeSetup,
    SignedOut,
    SignedIn {
        /// An administrator set a temporary password, changed before anything else.
        must_change_password: bool,
        /// A product key is applied.
        activated: bool,
    },
}

/// The page to go to instead of `path`, or `None` to show `path`.
///
/// Before setup every page leads to setup; after it, setup is gone and every page but sign-in
/// leads to sign-in when no one is signed in. A temporary password is changed first, on the
/// account page. Until a product key is applied every page leads to activation; after, the
/// activation page leads to the license page (where renewals and upgrades go).
pub fn redirect(path: &str, visitor: Visitor) -> Option<&'static str> {
    let (must_change_password, activated) = match visitor {
        Visitor::BeforeSetup => return (path != "/setup").then_some("/setup"),
        _ if path == "/setup" => return Some("/login"),
        Visitor::SignedOut => return (path != "/login").then_some("/login"),
        Visitor::SignedIn { .. } if path == "/login" => return Some("/"),
        Visitor::SignedIn {
            must_change_password,
            activated,
        } => (must_change_password, activated),
    };
    if must_change_password {
        return (path != "/account").then_some("/account");
    }
    match (path, activated) {
        ("/activate", true) => Some("/license"),
        ("/activate", false) => None,
        (_, false) => Some("/activate"),
        (_, true) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const READY: Visitor = Visitor::SignedIn {
        must_change_password: false,
        activated: true,
    };
    const UNACTIVATED: Visitor = Visitor::SignedIn {
        must_change_password: false,
        activated: false,
    };
    const TEMPORARY_PASSWORD: Visitor = Visitor::SignedIn {
        must_change_password: true,
        activated: true,
    };

    #[test]
    fn before_setup_everything_leads_to_setup() {
        assert_eq!(redirect("/", Visitor::BeforeSetup), Some("/setup"));
        assert_eq!(redirect("/login", Visitor::BeforeSetup), Some("/setup"));
        assert_eq!(redirect("/setup", Visitor::BeforeSetup), None);
    }

    #[test]
    fn after_setup_its_page_is_gone() {
        for visitor in [Visitor::SignedOut, READY, UNACTIVATED, TEMPORARY_PASSWORD] {
            assert_eq!(redirect("/setup", visitor), Some("/login"), "{visitor:?}");
        }
    }

    #[test]
    fn signed_out_visitors_only_see_sign_in() {
        assert_eq!(redirect("/instances", Visitor::SignedOut), Some("/login"));
        assert_eq!(redirect("/activate", Visitor::SignedOut), Some("/login"));
        assert_eq!(redirect("/login", Visitor::SignedOut), None);
    }

    #[test]
    fn signed_in_visitors_leave_sign_in() {
        assert_eq!(redirect("/login", READY), Some("/"));
        assert_eq!(redirect("/login", TEMPORARY_PASSWORD), Some("/"));
    }

    #[test]
    fn a_temporary_password_is_changed_first() {
        assert_eq!(redirect("/instances", TEMPORARY_PASSWORD), Some("/account"));
        assert_eq!(redirect("/account", TEMPORARY_PASSWORD), None);
        let unactivated_too = Visitor::SignedIn {
            must_change_password: true,
            activated: false,
        };
        assert_eq!(redirect("/activate", unactivated_too), Some("/account"));
    }

    #[test]
    fn activation_comes_before_every_page_and_then_is_done() {
        assert_eq!(redirect("/instances", UNACTIVATED), Some("/activate"));
        assert_eq!(redirect("/activate", UNACTIVATED), None);
        assert_eq!(redirect("/activate", READY), Some("/license"));
        assert_eq!(redirect("/instances", READY), None);
    }
}
