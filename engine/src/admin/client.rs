//! The admin client: a connection per node, kept and re-dialled after an error; where each
//! request goes (any node, "the controller", one node); retries within a deadline.
//!
//! Routing as Kafka's own Java `Admin` does it against a KRaft cluster: requests that change
//! the cluster (CreateTopics, DeleteTopics, IncrementalAlterConfigs of a topic,
//! AlterUserScramCredentials) go to the node Metadata names as controller, which in KRaft is
//! any live broker: brokers forward them to the active controller and answer NOT_CONTROLLER
//! only if that fails. A broker's own dynamic configuration and its log directories go to that
//! broker, ListOffsets to each partition's leader, the rest to any node. A group's requests
//! (DescribeGroups, OffsetFetch, OffsetCommit, DeleteGroups...) go to its coordinator, the
//! broker FindCoordinator names: remembered per group, and asked again after any retriable
//! failure (NOT_COORDINATOR once the group moved with its `__consumer_offsets` partition).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_rustls::TlsConnector;

use super::api::AdminRequest;
use super::conn::{timed_out, Connection, NodeVersions};
use super::error::{code, AdminError, KafkaError};
use super::tls::TlsIdentity;

/// How to reach a cluster.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// `host:port` of nodes' listener (the internal listener); any one answering is enough.
    pub bootstrap: Vec<String>,
    /// The console's client certificate and the CA; `None` for a plaintext listener.
    pub tls: Option<TlsIdentity>,
    /// The `client.id` of the requests (in the brokers' request logs and quotas).
    pub client_id: String,
    /// A call's whole budget, retries included.
    pub deadline: Duration,
    /// One attempt's budget (a connection and one request).
    pub request_timeout: Duration,
    /// Dialling, TLS and ApiVersions of a new connection.
    pub connect_timeout: Duration,
}

impl AdminConfig {
    /// Defaults: client id `byoc-console`, 30 s per call, 10 s per attempt, 5 s to connect.
    pub fn new(
        bootstrap: impl IntoIterator<Item = impl Into<String>>,
        tls: Option<TlsIdentity>,
    ) -> Self {
        Self {
            bootstrap: bootstrap.into_iter().map(Into::into).collect(),
            tls,
            client_id: "byoc-console".into(),
            deadline: Duration::from_secs(30),
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Any node: the one last used, the next one after a failure.
    Any,
    /// The node Metadata names as controller (a broker that forwards to the active controller).
    Controller,
    /// This broker (by node id, its address from Metadata).
    Node(i32),
}

/// Where one request goes: a [`Route`], or the coordinator of a group.
#[derive(Debug, Clone, Copy)]
enum Target<'a> {
    Route(Route),
    Coordinator(&'a str),
}

/// The Kafka Admin API of one cluster. Cheap to clone: clones share the connections.
#[derive(Clone)]
pub struct AdminClient {
    inner: Arc<Inner>,
    deadline: Duration,
}

type Slot = Arc<tokio::sync::Mutex<Option<Connection>>>;

struct Inner {
    bootstrap: Vec<String>,
    tls: Option<TlsConnector>,
    client_id: String,
    request_timeout: Duration,
    connect_timeout: Duration,
    conns: Mutex<HashMap<String, Slot>>,
    view: Mutex<Option<View>>,
    /// Group id -> its coordinator (node id, `host:port`), as FindCoordinator answered.
    coordinators: Mutex<HashMap<String, (i32, String)>>,
    preferred: AtomicUsize,
}

/// What the client last learnt from Metadata: brokers' addresses and the controller.
#[derive(Debug, Clone)]
struct View {
    brokers: BTreeMap<i32, String>,
    controller: Option<i32>,
}

const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Coordinators remembered at most (then forgotten at once, and found again as needed).
const MAX_REMEMBERED_GROUPS: usize = 4096;

impl AdminClient {
    /// A client for `config`; connects lazily. Fails only on bad PEM or no bootstrap address.
    pub fn new(config: AdminConfig) -> Result<Self, AdminError> {
        if config.bootstrap.is_empty() {
            return Err(AdminError::Config("no bootstrap address".into()));
        }
        let tls = config
            .tls
            .as_ref()
            .map(TlsIdentity::connector)
            .transpose()?;
        Ok(Self {
            deadline: config.deadline,
            inner: Arc::new(Inner {
                bootstrap: config.bootstrap,
                tls,
                client_id: config.client_id,
                request_timeout: config.request_timeout,
                connect_timeout: config.connect_timeout,
                conns: Mutex::new(HashMap::new()),
                view: Mutex::new(None),
                coordinators: Mutex::new(HashMap::new()),
                preferred: AtomicUsize::new(0),
            }),
        })
    }

    /// The same client (same connections) with another budget per call.
    pub fn with_deadline(&self, deadline: Duration) -> Self {
        Self {
            inner: self.inner.clone(),
            deadline,
        }
    }

    /// The budget of a call, retries included.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// A node's ApiVersions answer on its listener at `addr`: one attempt, no retry (a health
    /// probe). Uses the kept connection to `addr`, or dials one.
    pub async fn api_versions(&self, addr: &str) -> Result<NodeVersions, AdminError> {
        let slot = self.slot(addr);
        let mut guard = slot.lock().await;
        let probe = async {
            let mut conn = match guard.take() {
                Some(conn) => conn,
                None => {
                    let conn = self.dial(addr, self.inner.connect_timeout).await?;
                    let versions = conn.versions.clone();
                    *guard = Some(conn);
                    return Ok(versions);
                }
            };
            let versions = conn.api_versions().await;
            if keeps_connection(&versions) {
                *guard = Some(conn);
            }
            versions
        };
        tokio::time::timeout(self.inner.request_timeout, probe)
            .await
            .unwrap_or_else(|_| Err(timed_out(addr, "ApiVersions")))
    }

    /// Sends the request `build` makes (given the version agreed with the node) along
    /// `route`, and retries until the deadline while the failure is retriable: connection lost
    /// or refused, a node missing from metadata, or a retriable error `check` finds in the
    /// response. `check` returns the response's error, if any: a retriable one (e.g.
    /// NOT_CONTROLLER) is retried after a metadata refresh, any other is the call's error.
    pub async fn request<R: AdminRequest>(
        &self,
        route: Route,
        build: impl Fn(i16) -> R,
        check: impl Fn(&R::Response) -> Result<(), KafkaError>,
    ) -> Result<R::Response, AdminError> {
        self.request_to(Target::Route(route), build, check).await
    }

    /// As [`request`](Self::request), to the coordinator of `group` (FindCoordinator, key type
    /// group). `check` should return NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE and
    /// COORDINATOR_LOAD_IN_PROGRESS of the response: retried, the coordinator asked again.
    pub async fn request_coordinator<R: AdminRequest>(
        &self,
        group: &str,
        build: impl Fn(i16) -> R,
        check: impl Fn(&R::Response) -> Result<(), KafkaError>,
    ) -> Result<R::Response, AdminError> {
        self.request_to(Target::Coordinator(group), build, check)
            .await
    }

    /// One attempt of the request `build` makes along `route`, never sent twice (Produce
    /// without a producer id): a lost connection or a timeout is the call's error, and the
    /// request may or may not have been served.
    pub async fn request_once<R: AdminRequest>(
        &self,
        route: Route,
        build: impl Fn(i16) -> R,
    ) -> Result<R::Response, AdminError> {
        let attempt = async {
            let addr = self.resolve(route, self.deadline).await?;
            self.send_to(&addr, &build, self.deadline).await
        };
        let result = attempt.await;
        if let Err(err) = &result {
            self.after_failure(err);
        }
        result
    }

    /// The node id of `group`'s coordinator as last found, if it was.
    pub fn known_coordinator(&self, group: &str) -> Option<i32> {
        let coordinators = self.inner.coordinators.lock().expect("coordinators");
        coordinators.get(group).map(|(id, _)| *id)
    }

    async fn request_to<R: AdminRequest>(
        &self,
        target: Target<'_>,
        build: impl Fn(i16) -> R,
        check: impl Fn(&R::Response) -> Result<(), KafkaError>,
    ) -> Result<R::Response, AdminError> {
        let started = Instant::now();
        let deadline = started + self.deadline;
        let mut backoff = FIRST_BACKOFF;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let attempt = async {
                let addr = match target {
                    Target::Route(route) => self.resolve(route, remaining).await?,
                    Target::Coordinator(group) => self.coordinator(group, remaining).await?,
                };
                let response = self.send_to(&addr, &build, remaining).await?;
                check(&response)?;
                Ok::<_, AdminError>(response)
            };
            let err = match attempt.await {
                Ok(response) => return Ok(response),
                Err(err) => err,
            };
            if !err.is_retriable() {
                return Err(err);
            }
            tracing::debug!(api = R::NAME, ?target, attempts, error = %err, "admin request retried");
            self.after_failure(&err);
            if Instant::now() + backoff >= deadline {
                return Err(AdminError::Deadline {
                    attempts,
                    elapsed: started.elapsed(),
                    last: Box::new(err),
                });
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Drops every kept connection (they are re-dialled on the next request).
    pub fn close(&self) {
        self.inner.conns.lock().expect("conns").clear();
    }

    /// The broker addresses the client last learnt (node id -> `host:port`).
    pub fn known_brokers(&self) -> BTreeMap<i32, String> {
        let view = self.inner.view.lock().expect("view");
        view.as_ref().map(|v| v.brokers.clone()).unwrap_or_default()
    }

    /// The `timeout_ms` to put in requests that wait on the controller: four fifths of an
    /// attempt's budget, so that the node's answer (even a timeout) arrives within it.
    pub(crate) fn server_timeout_ms(&self) -> i32 {
        let ms = self.inner.request_timeout.as_millis() * 4 / 5;
        i32::try_from(ms).unwrap_or(i32::MAX)
    }

    /// Remembers brokers and controller from a Metadata answer.
    pub(crate) fn learn(&self, brokers: BTreeMap<i32, String>, controller: i32) {
        let controller = (controller >= 0).then_some(controller);
        *self.inner.view.lock().expect("view") = Some(View {
            brokers,
            controller,
        });
    }

    /// A request to `addr`, over its kept connection or a new one, within `timeout`.
    async fn send_to<R: AdminRequest>(
        &self,
        addr: &str,
        build: &impl Fn(i16) -> R,
        timeout: Duration,
    ) -> Result<R::Response, AdminError> {
        let timeout = timeout.min(self.inner.request_timeout);
        let slot = self.slot(addr);
        let work = async {
            let mut guard = slot.lock().await;
            // Taken out while in use: a call cancelled half-way drops the connection.
            let mut conn = match guard.take() {
                Some(conn) => conn,
                None => {
                    self.dial(addr, timeout.min(self.inner.connect_timeout))
                        .await?
                }
            };
            let response = conn.send(build).await;
            if keeps_connection(&response) {
                *guard = Some(conn);
            }
            response
        };
        tokio::time::timeout(timeout, work)
            .await
            .unwrap_or_else(|_| Err(timed_out(addr, R::NAME)))
    }

    async fn dial(&self, addr: &str, timeout: Duration) -> Result<Connection, AdminError> {
        let tls = self.inner.tls.as_ref();
        Connection::open(addr, tls, &self.inner.client_id, timeout).await
    }

    fn slot(&self, addr: &str) -> Slot {
        let mut conns = self.inner.conns.lock().expect("conns");
        conns.entry(addr.to_owned()).or_default().clone()
    }

    /// The address a route leads to now; refreshes the view with Metadata if it has none.
    async fn resolve(&self, route: Route, remaining: Duration) -> Result<String, AdminError> {
        if route == Route::Any {
            return Ok(self.any_addr());
        }
        let view = match self.view() {
            Some(view) => view,
            None => self.refresh_view(remaining).await?,
        };
        let id = match route {
            Route::Node(id) => id,
            _ => view.controller.ok_or_else(|| {
                KafkaError::from_code(code::NOT_CONTROLLER, Some("Metadata names no controller"))
                    .expect("an error code")
            })?,
        };
        view.brokers
            .get(&id)
            .cloned()
            .ok_or(AdminError::UnknownNode(id))
    }

    /// `group`'s coordinator's address: remembered, else asked of any node.
    async fn coordinator(&self, group: &str, remaining: Duration) -> Result<String, AdminError> {
        // In a block of its own: the guard must be gone before the first await.
        let known = {
            let coordinators = self.inner.coordinators.lock().expect("coordinators");
            coordinators.get(group).map(|(_, addr)| addr.clone())
        };
        if let Some(addr) = known {
            return Ok(addr);
        }
        let addr = self.any_addr();
        let build = super::groups::find_coordinator_request(group);
        let response = self.send_to(&addr, &build, remaining).await?;
        let (id, addr) = super::groups::coordinator_of(&response)?;
        let mut coordinators = self.inner.coordinators.lock().expect("coordinators");
        if coordinators.len() >= MAX_REMEMBERED_GROUPS {
            coordinators.clear();
        }
        coordinators.insert(group.to_owned(), (id, addr.clone()));
        Ok(addr)
    }

    fn view(&self) -> Option<View> {
        self.inner.view.lock().expect("view").clone()
    }

    async fn refresh_view(&self, remaining: Duration) -> Result<View, AdminError> {
        let addr = self.any_addr();
        let response = self
            .send_to(&addr, &super::cluster::brokers_only_request, remaining)
            .await?;
        let brokers = super::cluster::broker_addresses(&response);
        self.learn(brokers, response.controller_id.0);
        Ok(self.view().expect("just learnt"))
    }

    /// Brokers learnt from metadata first, then the bootstrap addresses; the preferred one.
    fn any_addr(&self) -> String {
        let mut candidates: Vec<String> = self.known_brokers().into_values().collect();
        for addr in &self.inner.bootstrap {
            if !candidates.contains(addr) {
                candidates.push(addr.clone());
            }
        }
        let i = self.inner.preferred.load(Ordering::Relaxed) % candidates.len();
        candidates.swap_remove(i)
    }

    fn after_failure(&self, err: &AdminError) {
        // Leadership or the controller may have moved, a node may be gone: ask Metadata again.
        *self.inner.view.lock().expect("view") = None;
        self.inner
            .coordinators
            .lock()
            .expect("coordinators")
            .clear();
        if matches!(err, AdminError::Io { .. } | AdminError::Tls { .. }) {
            self.inner.preferred.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Whether a connection is still good after this result: not after a broken stream or bytes
/// we could not make sense of.
fn keeps_connection<T>(result: &Result<T, AdminError>) -> bool {
    !matches!(
        result,
        Err(AdminError::Io { .. } | AdminError::Tls { .. } | AdminError::Protocol { .. })
    )
}
