//! `byoc-console demo`: a console on its own data directory with a demo vendor key, printed
//! product keys, and its own marketplace emulator.

use super::flags::BrokerArgs;
use super::vendor::{issue, IssueArgs};
use crate::listen_and_serve;
use anyhow::Context;
use app::server::marketplace::{client::Endpoints, MarketplaceSettings};
use app::server::{clock::SystemClock, vendor, Config};
use byoc_console::{leptos_options, Console};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use time::OffsetDateTime;

/// Prints where the emulator listens and the credentials it knows.
pub fn print_emulator(listen: SocketAddr, config: &marketplace_emulator::Config) {
    println!("Marketplace emulator on http://{listen} (AWS at /, Alibaba Cloud at /alibaba/)");
    for account in &config.aws {
        println!(
            "  AWS access key {} secret {} session token {} ({})",
            account.access_key_id,
            account.secret,
            account.session_token.as_deref().unwrap_or("(none)"),
            if account.authorized {
                "may call MeterUsage"
            } else {
                "without the MeterUsage permission"
            }
        );
    }
    println!("  AWS product code {}", config.aws_product_code);
    println!(
        "  Alibaba Compute Nest service {} (link it as the listing), service instance {}",
        config.alibaba_service_id, config.alibaba_service_instance_id
    );
    println!("  Switch the subscription off: curl -XPOST http://{listen}/_emulator/entitlement -d '{{\"entitled\":false}}' -H 'content-type: application/json'");
}

pub async fn demo(
    listen: SocketAddr,
    data_dir: PathBuf,
    emulator_listen: SocketAddr,
    brokers: BrokerArgs,
) -> anyhow::Result<()> {
    // The demo's own marketplace: the console reports to it with the emulator's demo
    // credentials, given the standard way (the environment), and nothing reaches a cloud.
    let mut emulator = marketplace_emulator::Config::demo();
    // The listing has the tier dimensions the demo's pay-as-you-go prices need on AWS.
    emulator.aws_dimensions = demo_aws_dimensions()?;
    let emulator_listener = tokio::net::TcpListener::bind(emulator_listen)
        .await
        .with_context(|| format!("the marketplace emulator cannot listen on {emulator_listen}"))?;
    let aws = emulator
        .aws
        .first()
        .cloned()
        .context("the emulator knows no AWS account")?;
    std::env::set_var("AWS_ACCESS_KEY_ID", &aws.access_key_id);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", &aws.secret);
    match &aws.session_token {
        Some(token) => std::env::set_var("AWS_SESSION_TOKEN", token),
        None => std::env::remove_var("AWS_SESSION_TOKEN"),
    }
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    // Compute Nest's in-instance calls need the service's key in the data directory, as a
    // deploy-time secret would be (owner-only).
    write_service_key(&data_dir, &emulator.alibaba_service_key)?;
    let product_code = emulator.aws_product_code.clone();
    let service_id = emulator.alibaba_service_id.clone();
    print_emulator(emulator_listen, &emulator);
    tokio::spawn(async move {
        if let Err(error) = marketplace_emulator::serve(emulator_listener, emulator).await {
            tracing::error!(%error, "marketplace emulator stopped");
        }
    });
    let vendor_dir = data_dir.join("demo-vendor");
    if !vendor_dir.join(vendor::SIGNING_KEY_FILE).exists() {
        vendor::generate(&vendor_dir, "demo-vendor")?;
    }
    let trusted = vendor::read_public_key(&vendor_dir.join(vendor::PUBLIC_KEY_FILE))?;
    let console = Console::open(
        &data_dir,
        Config {
            provisioner: brokers.choice()?,
            stop_brokers_on_exit: brokers.stop_brokers_on_exit,
            marketplace: MarketplaceSettings {
                endpoints: Endpoints {
                    aws: Some(format!("http://{emulator_listen}")),
                    aws_region: Some("us-east-1".into()),
                    alibaba: Some(format!("http://{emulator_listen}/alibaba")),
                },
                ..MarketplaceSettings::default()
            },
            ..Config::default()
        },
        Arc::new(SystemClock),
        leptos_options(listen),
        vec![trusted],
    )
    .await?;
    let demo_key =
        |billing: &str, aku: u32, license_id: &str, price: Vec<String>, listing: Option<String>| {
            issue(
                IssueArgs {
                    signing_key: vendor_dir.join(vendor::SIGNING_KEY_FILE),
                    installation_id: console.state.installation_id.clone(),
                    customer: "Demo customer".into(),
                    billing: billing.into(),
                    aku: Some(aku),
                    months: Some(12),
                    expires: None,
                    starts: None,
                    issued: None,
                    max_aku_per_instance: 500,
                    grace_days: 14,
                    license_id: Some(license_id.into()),
                    currency: "USD".into(),
                    price,
                    listing,
                },
                OffsetDateTime::now_utc(),
            )
        };
    let prepaid = demo_key("prepaid", 100, "DEMO-PREPAID", vec![], None)?;
    // Tiered like the vendor's usage-based billing: the more used in a month, the lower the
    // unit price beyond each threshold.
    let payg = demo_key(
        "payg",
        200,
        "DEMO-PAYG",
        DEMO_PAYG_PRICES.map(String::from).to_vec(),
        Some(format!("aws:{product_code}")),
    )?;
    println!();
    println!("BYOC console demo: open http://{listen}");
    println!("  1. Set up the first administrator.");
    println!("  2. On the activation page, paste one of these product keys for this installation.");
    println!();
    println!("One-year prepaid, 100 AKU:");
    println!("{prepaid}");
    println!();
    println!("One-year pay-as-you-go (usage and charges on the Usage page), capped at 200 AKU:");
    println!("{payg}");
    println!();
    println!("It is billed through the emulator's AWS listing: on the Marketplace page, link AWS Marketplace");
    println!("with product code {product_code} (or Alibaba Cloud Compute Nest with service id {service_id},");
    println!("after applying a key issued with --listing alibaba:{service_id}). Each hour is reported within a minute after it closes:\nwatch them on the Usage page.");
    println!();
    println!("The demo vendor key is trusted only by this demo; every page says so.");
    listen_and_serve(console, listen, true).await
}

/// Writes the demo's Compute Nest service key where the console reads it, owner-only.
fn write_service_key(data_dir: &std::path::Path, key: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = data_dir.join("marketplace");
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("alibaba-service-key");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(key.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The demo's pay-as-you-go prices (`vendor issue --price` form): tiered like the vendor's
/// usage-based billing.
const DEMO_PAYG_PRICES: [&str; 7] = [
    "aku_hours:0=0.12,10000=0.10,50000=0.08",
    "data_in_gib:0=0.02,10000=0.015",
    "data_out_gib:0=0.01",
    "data_retained_gib_hours:0=0.00005",
    "uptime_hours_dev:0=0.05",
    "uptime_hours_pro:0=0.20",
    "uptime_hours_enterprise:0=0.50",
];

/// The AWS dimensions of the demo's listing: every dimension's own (a key priced in one
/// tier reports it, as the browser tests' keys do), and one per tier of a dimension
/// [`DEMO_PAYG_PRICES`] prices in tiers (`domain::marketplace::tiers`).
pub fn demo_aws_dimensions() -> anyhow::Result<Vec<String>> {
    use app::domain::marketplace::{mapping, tiers, Marketplace};
    let mut out = Vec::new();
    for price in DEMO_PAYG_PRICES {
        let (ledger, tier_list) = price
            .split_once(':')
            .context("a demo price is not DIMENSION:TIERS")?;
        let m = mapping(Marketplace::Aws, ledger)
            .with_context(|| format!("{ledger} has no AWS dimension"))?;
        let count = tier_list.split(',').count();
        out.push(m.key.to_string());
        if count > 1 {
            out.extend((1..=count).map(|i| tiers::tier_key(m.key, i)));
        }
    }
    Ok(out)
}
