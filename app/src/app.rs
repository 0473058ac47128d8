//! The document shell, the routes, and the signed-in frame (navigation, user, sign-out).

use crate::api::auth::{current_session, Logout};
use crate::api::error::AppError;
use crate::components::license_banner::LicenseBannerView;
use crate::components::page_data::page_data;
use crate::domain::account::Role;
use crate::domain::license_state::Phase;
use crate::domain::navigation::{self, Visitor};
use crate::pages::{
    account::AccountPage, activate::ActivatePage, audit::AuditPage,
    instance_detail::InstanceDetailPage, instance_new::NewInstancePage, instances::InstancesPage,
    license::LicensePage, login::LoginPage, marketplace::MarketplacePage, not_found::NotFound,
    overview::OverviewPage, service_accounts::ServiceAccountsPage, setup::SetupPage,
    usage::UsagePage, users::UsersPage,
};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Outlet, ParentRoute, Route, Router, Routes, A},
    hooks::{use_location, use_navigate},
    lazy_route, path, Lazy, LazyRoute, SsrMode,
};

/// The HTML document the server renders around the app (the server sets its content
/// security policy, whose nonce the scripts carry, before it renders this).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <HydrationScripts options=options.clone() />
                <PagePreloads options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Preload links for the WASM modules of the page being loaded (`server::page_preloads`).
/// The shell is rendered by the server only; the browser's build has nothing to add.
#[component]
fn PagePreloads(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        use crate::server::page_preloads::{links_for, LOADER};
        let links =
            crate::server::auth::with_request(|parts| links_for(&options, parts.uri.path()))
                .unwrap_or_default();
        // Made once per route, sent as it is: rendering ~150 link views a page cost the
        // lightest pages a tenth of their throughput.
        let loader = (!links.is_empty()).then(|| {
            let href = format!("/{}/{LOADER}", options.site_pkg_dir);
            view! { <link rel="modulepreload" href=href nonce=leptos::nonce::use_nonce() /> }
        });
        view! { {leptos::tachys::html::InertElement::new(links)} {loader} }
    }
    #[cfg(not(feature = "ssr"))]
    {
        let _ = options;
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Every route renders with SsrMode::Async: the server sends each page whole, so it reads
    // fine with JavaScript off.
    view! {
        <Stylesheet id="leptos" href="/pkg/byoc-console.css" />
        <Title formatter=|page: String| {
            if page.is_empty() { "BYOC console".to_string() } else { format!("{page} · BYOC console") }
        } />
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/setup") view={Lazy::<SetupPageRoute>::new()} ssr=SsrMode::Async />
                <Route path=path!("/login") view={Lazy::<LoginPageRoute>::new()} ssr=SsrMode::Async />
                <ParentRoute path=path!("") view=SignedInFrame ssr=SsrMode::Async>
                    <Route path=path!("") view={Lazy::<OverviewPageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/instances") view={Lazy::<InstancesPageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/instances/new") view={Lazy::<NewInstancePageRoute>::new()} ssr=SsrMode::Async />
                    <Route
                        path=path!("/instances/:id")
                        view={Lazy::<InstanceDetailPageRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route path=path!("/activate") view={Lazy::<ActivatePageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/license") view={Lazy::<LicensePageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/usage") view={Lazy::<UsagePageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/marketplace") view={Lazy::<MarketplacePageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/users") view={Lazy::<UsersPageRoute>::new()} ssr=SsrMode::Async />
                    <Route
                        path=path!("/service-accounts")
                        view={Lazy::<ServiceAccountsPageRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route path=path!("/audit") view={Lazy::<AuditPageRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/account") view={Lazy::<AccountPageRoute>::new()} ssr=SsrMode::Async />
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// Navigation, the signed-in user and sign-out around every page after sign-in.
#[component]
fn SignedInFrame() -> impl IntoView {
    // Fetched again on every navigation: the banner stays current, and the browser follows the
    // same page rules as the server's guard (sign-in, then activation) between full loads.
    let location = use_location();
    let session = page_data(move || location.pathname.get(), |_| current_session());
    let navigate = use_navigate();
    Effect::new(move |_| {
        let Some(result) = session.get() else { return };
        let path = location.pathname.get_untracked();
        let visitor = match &result {
            Err(AppError::Unauthenticated) => Visitor::SignedOut,
            Ok(info) => Visitor::SignedIn {
                must_change_password: info.must_change_password,
                activated: info.license.phase != Phase::Unactivated,
            },
            // Another failure shows on the page itself.
            Err(_) => return,
        };
        let to = navigation::redirect(&path, visitor);
        if let Some(to) = to {
            navigate(to, Default::default());
        }
    });
    let logout = ServerAction::<Logout>::new();
    view! {
        <div class="frame">
            <header class="topbar">
                <a class="brand" href="/">
                    "BYOC console"
                </a>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        match session.await {
                            Ok(info) => {
                                Either::Left(
                                    view! {
                                        <span class="environment-name">{info.environment_name}</span>
                                        <div class="signed-in">
                                            <a class="username" href="/account" data-testid="signed-in-user">
                                                {info.username}
                                            </a>
                                            <span class="role-badge" data-testid="signed-in-role">
                                                {info.role.to_string()}
                                            </span>
                                            <ActionForm action=logout attr:class="inline-form">
                                                <button type="submit" class="button-quiet">
                                                    "Sign out"
                                                </button>
                                            </ActionForm>
                                        </div>
                                    },
                                )
                            }
                            Err(_) => Either::Right(view! { <a href="/login">"Sign in"</a> }),
                        }
                    })}
                </Suspense>
            </header>
            <nav class="sidebar" aria-label="Main">
                <A href="/" exact=true>
                    "Overview"
                </A>
                <A href="/instances">"Instances"</A>
                <A href="/license">"License"</A>
                <A href="/usage">"Usage"</A>
                <A href="/marketplace">"Marketplace"</A>
                // Administration links for admins only (the server refuses others anyway).
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let admin = session.await.is_ok_and(|i| i.role == Role::Admin);
                        admin
                            .then(|| {
                                view! {
                                    <A href="/users">"Users"</A>
                                    <A href="/service-accounts">"Service accounts"</A>
                                    <A href="/audit">"Audit log"</A>
                                }
                            })
                    })}
                </Suspense>
                <A href="/account">"Account"</A>
            </nav>
            <main class="content">
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        session.await.ok().map(|info| view! { <LicenseBannerView banner=info.license /> })
                    })}
                </Suspense>
                <ErrorBoundary fallback=|errors| {
                    view! {
                        <section class="error-page">
                            <h1>"Something went wrong"</h1>
                            <ul>
                                {move || {
                                    errors
                                        .get()
                                        .into_iter()
                                        .map(|(_, e)| view! { <li>{e.to_string()}</li> })
                                        .collect_view()
                                }}
                            </ul>
                            <p>
                                <a href="/">"Back to the overview"</a>
                            </p>
                        </section>
                    }
                }>
                    <Outlet />
                </ErrorBoundary>
            </main>
        </div>
    }
}

/// Each page is a lazy route: its code is a chunk of the WASM of its own, fetched when the
/// page is first shown (on a full load, before hydration), so the first download is the
/// frame, the router and one page rather than every page.
macro_rules! lazy_pages {
    ($($route:ident => $page:ident),* $(,)?) => {$(
        struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_this: Self) -> AnyView {
                view! { <$page /> }.into_any()
            }
        }
    )*};
}

lazy_pages! {
    SetupPageRoute => SetupPage,
    LoginPageRoute => LoginPage,
    OverviewPageRoute => OverviewPage,
    InstancesPageRoute => InstancesPage,
    NewInstancePageRoute => NewInstancePage,
    InstanceDetailPageRoute => InstanceDetailPage,
    ActivatePageRoute => ActivatePage,
    LicensePageRoute => LicensePage,
    UsagePageRoute => UsagePage,
    MarketplacePageRoute => MarketplacePage,
    UsersPageRoute => UsersPage,
    ServiceAccountsPageRoute => ServiceAccountsPage,
    AuditPageRoute => AuditPage,
    AccountPageRoute => AccountPage,
}
