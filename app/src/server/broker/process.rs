//! One broker process per instance, on the data plane: started in a session of its own so
//! that it outlives the console (a stop, restart, upgrade or crash of the console never
//! interrupts Kafka clients), found again by the pid file in its directory, and stopped with
//! SIGINT, then SIGKILL after [`STOP_GRACE`]. Whether a broker should run is not decided
//! here: the control loop (`server::reconciler`) decides, these functions carry it out.

use super::probe;
use crate::server::provisioner::ProvisionError;
use anyhow::{anyhow, Context};
use rustix::process::{kill_process, Pid, Signal};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub const PID_FILE: &str = "broker.pid";
/// The instance's server certificate and key (PEM), read by the broker at start.
pub const CERT_FILE: &str = "server.pem";
pub const KEY_FILE: &str = "server.key";
const LOG_FILE: &str = "broker.log";
/// How long a started broker may take to answer a Kafka request (it takes 30 to 50 ms).
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a stopping broker gets after SIGINT before SIGKILL (a hung or stopped process
/// never exits on a signal it must handle).
///
/// SIGINT, not SIGTERM: nisshi 0.8.1 answers SIGTERM by waiting up to 5 s for its client
/// connections to end (they do not while clients are connected), SIGINT by ending them at
/// once. Either way it then stops; its storage is SQLite transactions, so a request cut off
/// is simply not answered and the client sends it again. A restart (a new certificate,
/// users changed) is then a gap of tens of milliseconds, not 5 s.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// Where and how one broker listens.
pub struct Launch<'a> {
    pub instance_id: i64,
    pub dir: &'a Path,
    pub port: u16,
    /// The address the listener binds: the one configured for the instance's exposure.
    pub listen: IpAddr,
    /// The host clients are told to connect to.
    pub advertised_host: &'a str,
    /// SASL/SCRAM required of every client (`--authentication`).
    pub authentication: bool,
    /// TLS only, with [`CERT_FILE`] and [`KEY_FILE`] of the directory.
    pub tls: bool,
    /// How the console asks the new broker whether it answers.
    pub probe: &'a probe::Target,
    /// How often the broker applies retention (and its other maintenance).
    pub maintenance_every: Duration,
}

/// A started broker that exited: which instance, and how (its exit status).
#[derive(Debug, Clone)]
pub struct Exit {
    pub instance_id: i64,
    pub pid: i32,
    pub how: String,
}

/// The broker process of an instance's directory, as found on the host.
#[derive(Debug, Clone, Copy)]
pub struct Found {
    pub pid: i32,
    /// It runs the configured broker program, not a binary that has since been replaced
    /// (an upgrade installs a new file; the old process's executable shows as deleted).
    pub right_program: bool,
}

/// True while `pid` is a live process (a zombie has exited: it is not).
pub fn alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "pid (comm) S ...": the state follows the last ')'.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    !matches!(state, Some("Z" | "X") | None)
}

/// The pid the directory's pid file names (alive or not).
pub fn recorded_pid(dir: &Path) -> Option<i32> {
    std::fs::read_to_string(dir.join(PID_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The broker working in `dir`, if its pid file names a live process that is this very
/// directory's broker: its working directory is `dir` and its command line is
/// `PROGRAM broker ...`. A pid reused by an unrelated process is never taken for it.
pub fn find(dir: &Path, bin: &Path) -> Option<Found> {
    let pid = recorded_pid(dir)?;
    examine(pid, &std::fs::canonicalize(dir).ok()?, bin)
}

/// [`find`], and when the pid file names none, a look through every process for a broker
/// working in `dir`: one started by a console killed between the start and the writing of
/// its pid file. Slower (it reads `/proc`); used before starting or stopping, not per probe.
pub fn find_even_unrecorded(dir: &Path, bin: &Path) -> Option<Found> {
    if let Some(found) = find(dir, bin) {
        return Some(found);
    }
    let dir = std::fs::canonicalize(dir).ok()?;
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .find_map(|pid| examine(pid, &dir, bin))
}

/// `pid` as the broker of the (canonical) directory `dir`, if it is one.
fn examine(pid: i32, dir: &Path, bin: &Path) -> Option<Found> {
    if !alive(pid) {
        return None;
    }
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
    if cwd != dir {
        return None;
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    if cmdline.split(|b| *b == 0).nth(1) != Some(b"broker".as_slice()) {
        return None;
    }
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
    // When the configured program cannot be resolved there is nothing to replace it with.
    let right_program = match (std::fs::canonicalize(bin), exe) {
        (Ok(wanted), Some(exe)) => exe == wanted,
        _ => true,
    };
    Some(Found { pid, right_program })
}

/// Starts a broker for `launch` in a session of its own and returns its pid once it answers
/// a Kafka request. `exits` hears when it exits (the console reaps its own children; a
/// broker adopted from an earlier console is watched by the control loop's probes).
/// The caller makes sure no broker of this directory runs (see [`stop`]).
pub async fn spawn(
    bin: &Path,
    launch: Launch<'_>,
    exits: mpsc::UnboundedSender<Exit>,
) -> Result<i32, ProvisionError> {
    if answers(launch.probe.addr).await {
        return Err(anyhow!(
            "port {} is in use by another program; free it, or delete this instance and \
             create it again (a new instance gets a free port)",
            launch.port
        ));
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(launch.dir.join(LOG_FILE))
        .context("cannot open the broker log")?;
    let log_err = log.try_clone().context("cannot open the broker log")?;
    // The broker reads a `.env` file from its working directory and, failing that, from its
    // parents: an empty one here keeps settings of whatever directory the data lives under
    // out of it. Its environment is emptied for the same reason; every setting is a flag.
    std::fs::write(launch.dir.join(".env"), "").context("cannot write the broker's .env")?;
    let mut command = tokio::process::Command::new(bin);
    command
        .arg("broker")
        .arg("--listener-url")
        .arg(format!(
            "tcp://{}",
            SocketAddr::new(launch.listen, launch.port)
        ))
        .arg("--advertised-listener-url")
        .arg(match launch.advertised_host.parse::<IpAddr>() {
            Ok(IpAddr::V6(ip)) => format!("tcp://[{ip}]:{}", launch.port),
            _ => format!("tcp://{}:{}", launch.advertised_host, launch.port),
        })
        // Taken relative to the working directory (see ../shared/kafka-broker.md).
        .arg("--storage-engine")
        .arg(format!(
            "sqlite://tansu.db?maintenance_interval={}s",
            launch.maintenance_every.as_secs().max(1)
        ))
        .arg("--cluster-id")
        .arg(format!("byoc-{}", launch.instance_id));
    if launch.authentication {
        command.arg("--authentication");
    }
    if launch.tls {
        command
            .arg("--cert")
            .arg(CERT_FILE)
            .arg("--key")
            .arg(KEY_FILE);
    }
    command
        .current_dir(launch.dir)
        .env_clear()
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        // The data plane outlives the console: nothing of the console's ends it.
        .kill_on_drop(false);
    // SAFETY: the closure runs in the forked child before exec and calls only setsid(2),
    // which is async-signal-safe. A session of its own: no terminal hang-up, Ctrl-C or
    // process-group signal meant for the console reaches the broker.
    unsafe {
        command.pre_exec(|| {
            rustix::process::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let pid = child
        .id()
        .and_then(|p| i32::try_from(p).ok())
        .context("the broker exited at once")?;
    if let Err(e) = std::fs::write(launch.dir.join(PID_FILE), pid.to_string()) {
        let _ = child.start_kill();
        let _ = child.wait().await;
        return Err(anyhow::Error::new(e).context("cannot write the broker's pid file"));
    }

    // The broker exits 0 when it cannot bind, so the exit code proves nothing: wait until it
    // answers a Kafka request while the process is still alive.
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let _ = std::fs::remove_file(launch.dir.join(PID_FILE));
            return Err(anyhow!(
                "the broker exited ({status}) before answering on port {}: {}",
                launch.port,
                last_log_line(launch.dir)
            ));
        }
        // The answer must be this process's: a program that took the port meanwhile would
        // answer too, while this broker exits for want of it.
        if probe::api_versions(launch.probe, Duration::from_millis(500))
            .await
            .is_ok()
            && listens_on(pid, launch.port)
        {
            break;
        }
        if started.elapsed() > READY_TIMEOUT {
            let _ = child.start_kill();
            let _ = child.wait().await;
            let _ = std::fs::remove_file(launch.dir.join(PID_FILE));
            return Err(anyhow!(
                "the broker did not answer on port {} within {} s",
                launch.port,
                READY_TIMEOUT.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Reap it when it exits (no zombie left behind) and tell the control loop at once.
    let instance_id = launch.instance_id;
    tokio::spawn(async move {
        let how = match child.wait().await {
            Ok(status) => status.to_string(),
            Err(e) => e.to_string(),
        };
        tracing::info!(instance = instance_id, pid, %how, "broker process exited");
        let _ = exits.send(Exit {
            instance_id,
            pid,
            how,
        });
    });
    tracing::info!(
        instance = instance_id,
        pid,
        port = launch.port,
        "broker serving"
    );
    Ok(pid)
}

/// How long ago process `pid` started (its start time in `/proc/PID/stat`, against the
/// system's uptime).
pub fn age(pid: i32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22 (starttime, in clock ticks since boot) is the 20th after the "(comm)".
    let (_, rest) = stat.rsplit_once(')')?;
    let started_ticks: u64 = rest.split_whitespace().nth(19)?.parse().ok()?;
    let ticks_per_second = rustix::param::clock_ticks_per_second();
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let started = started_ticks as f64 / ticks_per_second as f64;
    Some(Duration::from_secs_f64((uptime - started).max(0.0)))
}

/// Whether the live broker `pid` answers on `port` with its own listening socket, giving one
/// that is still starting (younger than the time a started broker gets to answer) until it
/// does: a broker started by a console killed a moment ago is adopted, not replaced.
pub async fn answers_as_itself(pid: i32, target: &probe::Target) -> bool {
    loop {
        if !alive(pid) {
            return false;
        }
        if probe::api_versions(target, Duration::from_millis(500))
            .await
            .is_ok()
            && listens_on(pid, target.addr.port())
        {
            return true;
        }
        if age(pid).is_none_or(|age| age > READY_TIMEOUT) {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// True when process `pid` itself holds a listening TCP socket on `port` (any address): the
/// answer on that port is this process's, not another program's. Reads the kernel's socket
/// tables (`/proc/net/tcp`, `tcp6`) and the process's open files.
pub fn listens_on(pid: i32, port: u16) -> bool {
    let wanted = format!(":{port:04X}");
    let inodes: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|text| {
            text.lines()
                .skip(1)
                .filter_map(|line| {
                    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    let listening = fields.get(3) == Some(&"0A");
                    let on_port = fields.get(1).is_some_and(|a| a.ends_with(&wanted));
                    let inode = fields.get(9)?;
                    (listening && on_port).then(|| format!("socket:[{inode}]"))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|target| inodes.iter().any(|i| target.as_os_str() == i.as_str()))
    })
}

/// True when something accepts TCP connections on the port (on loopback).
pub async fn answers(addr: SocketAddr) -> bool {
    matches!(
        tokio::time::timeout(
            Duration::from_millis(300),
            tokio::net::TcpStream::connect(addr)
        )
        .await,
        Ok(Ok(_))
    )
}

fn signal(pid: i32, sig: Signal) {
    if let Some(pid) = Pid::from_raw(pid) {
        let _ = kill_process(pid, sig);
    }
}

/// Stops the broker of each directory (SIGINT to all at once; SIGKILL to those still alive
/// after [`STOP_GRACE`]), waits until they are gone and removes their pid files. Returns the
/// pids stopped. Only processes [`find`] verifies are signalled.
pub async fn stop(dirs: &[PathBuf], bin: &Path) -> Vec<i32> {
    let pids: Vec<i32> = dirs
        .iter()
        .filter_map(|dir| find_even_unrecorded(dir, bin))
        .map(|found| found.pid)
        .collect();
    for pid in &pids {
        signal(*pid, Signal::INT);
    }
    let started = Instant::now();
    let mut killed = false;
    while pids.iter().any(|p| alive(*p)) {
        if !killed && started.elapsed() > STOP_GRACE {
            for pid in pids.iter().filter(|p| alive(**p)) {
                tracing::warn!(
                    pid,
                    "broker ignored SIGINT for {} s; killing it",
                    STOP_GRACE.as_secs()
                );
                signal(*pid, Signal::KILL);
            }
            killed = true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for dir in dirs {
        let _ = std::fs::remove_file(dir.join(PID_FILE));
    }
    pids
}

/// The broker's last log line, without its colour codes, for an error message.
fn last_log_line(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join(LOG_FILE)).unwrap_or_default();
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output");
    let mut clean = String::with_capacity(line.len());
    let mut in_escape = false;
    for ch in line.chars() {
        match (in_escape, ch) {
            (false, '\u{1b}') => in_escape = true,
            (true, c) if c.is_ascii_alphabetic() => in_escape = false,
            (true, _) => {}
            (false, c) => clean.push(c),
        }
    }
    let clean = clean.trim();
    clean.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_file_naming_another_process_is_not_a_broker() {
        let dir = tempfile_dir();
        // Our own pid: alive, but its working directory is not `dir`.
        std::fs::write(dir.join(PID_FILE), std::process::id().to_string()).unwrap();
        assert!(find(&dir, Path::new("/bin/true")).is_none());
        std::fs::write(dir.join(PID_FILE), "not a pid").unwrap();
        assert!(find(&dir, Path::new("/bin/true")).is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_listening_socket_is_found_on_its_own_process_only() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let me = std::process::id() as i32;
        assert!(listens_on(me, port));
        // Another process (our parent) does not hold it.
        let parent = rustix::process::getppid().map_or(1, |p| p.as_raw_nonzero().get());
        assert!(!listens_on(parent, port));
        drop(listener);
        assert!(!listens_on(me, port));
    }

    #[test]
    fn a_process_age_is_read_from_its_start_time() {
        let me = std::process::id() as i32;
        let age = age(me).expect("our own age");
        assert!(age < Duration::from_secs(3600), "{age:?}");
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let young = super::age(child.id() as i32).expect("the child's age");
        assert!(young <= age, "{young:?} > {age:?}");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn a_running_process_is_alive_and_a_reaped_one_is_not() {
        assert!(alive(std::process::id() as i32));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        child.wait().unwrap();
        assert!(!alive(pid));
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("byoc-process-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
