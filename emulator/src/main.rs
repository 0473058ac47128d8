//! `marketplace-emulator [ADDR]`: serves the emulator with `Config::demo()` (default
//! 127.0.0.1:9300), for demos and manual runs of the console against fake marketplaces.

use marketplace_emulator::Config;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9300".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let config = Config::demo();
    println!("marketplace emulator on http://{}", listener.local_addr()?);
    println!(
        "  AWS:     POST /  region {}  product {}",
        config.aws_region, config.aws_product_code
    );
    for a in &config.aws {
        println!(
            "           key {} / {} session token {} (MeterUsage allowed: {})",
            a.access_key_id,
            a.secret,
            a.session_token.as_deref().unwrap_or("(none)"),
            a.authorized
        );
    }
    println!(
        "  Alibaba: /alibaba/  service instance {}",
        config.alibaba_service_instance_id
    );
    for a in &config.alibaba {
        println!("           key {} / {}", a.access_key_id, a.secret);
    }
    println!("  control: /_emulator/{{entitlement,faults,clock,billed,reset}}");
    marketplace_emulator::serve(listener, config).await
}
