//! A real Kafka client that nobody here wrote: confluent-kafka from PyPI, driven through
//! `tests/kafka/client.py` (see its docstring for the modes).

fn client(args: &[&str]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kafka/client.py");
    // A client that hangs fails the test after two minutes instead of holding up the run.
    super::console_process::stdout_of(
        std::process::Command::new("timeout")
            .args(["120", "python3", script])
            .args(args),
    )
}

/// Runs client.py with `args` off the async runtime; its output.
pub async fn kafka(args: Vec<String>) -> String {
    tokio::task::spawn_blocking(move || {
        client(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .expect("client task")
}

/// Produces `count` messages; the number acknowledged.
pub async fn produce(bootstrap: &str, topic: &str, count: u32) -> String {
    kafka(vec![
        "produce".into(),
        bootstrap.into(),
        topic.into(),
        count.to_string(),
    ])
    .await
}

/// Reads the topic from the start in a new consumer group: "N exact" when it read messages
/// 0..N-1, each once.
pub async fn consume(bootstrap: &str, topic: &str, group: &str, expected: u32) -> String {
    kafka(vec![
        "consume".into(),
        bootstrap.into(),
        topic.into(),
        group.into(),
        expected.to_string(),
    ])
    .await
}

/// True when the bootstrap address answers a Kafka metadata request.
pub fn answers_metadata(bootstrap: &str) -> bool {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kafka/client.py");
    std::process::Command::new("timeout")
        .args(["30", "python3", script, "metadata", bootstrap])
        .output()
        .is_ok_and(|out| out.status.success())
}
