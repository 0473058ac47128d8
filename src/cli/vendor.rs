//! The vendor's commands: signing keys and product keys. The customer never needs them; the
//! tests and the demo do.

use anyhow::{bail, Context};
use app::domain::license::{
    self, BillingModel, DimensionPrice, LicensePayload, PriceTier, Pricing,
};
use app::server::vendor;
use clap::Subcommand;
use std::path::PathBuf;
use time::OffsetDateTime;

#[derive(Subcommand)]
pub enum VendorCommand {
    /// Generate an Ed25519 signing key pair: DIR/signing-key.json (mode 0600) and
    /// DIR/public-key.json.
    Keygen {
        #[arg(long)]
        out: PathBuf,
        /// The key id written into every key it signs.
        #[arg(long, default_value = "vendor-dev")]
        key_id: String,
    },
    /// Issue a product key; prints it as the last line.
    Issue(Box<IssueArgs>),
}

#[derive(clap::Args)]
pub struct IssueArgs {
    #[arg(long)]
    pub signing_key: PathBuf,
    #[arg(long)]
    pub installation_id: String,
    #[arg(long)]
    pub customer: String,
    #[arg(long, value_parser = ["prepaid", "payg", "trial"])]
    pub billing: String,
    /// AKU quota (prepaid, trial); for payg an optional cap.
    #[arg(long)]
    pub aku: Option<u32>,
    /// Length of the license in calendar months from the start.
    #[arg(long, conflicts_with = "expires", required_unless_present = "expires")]
    pub months: Option<u32>,
    /// Expiry: YYYY-MM-DD (midnight UTC) or an RFC 3339 time.
    #[arg(long)]
    pub expires: Option<String>,
    /// Start: YYYY-MM-DD or RFC 3339 (default: now).
    #[arg(long)]
    pub starts: Option<String>,
    /// Issue time: YYYY-MM-DD or RFC 3339 (default: now).
    #[arg(long)]
    pub issued: Option<String>,
    #[arg(long, default_value_t = 500)]
    pub max_aku_per_instance: u32,
    #[arg(long, default_value_t = 14)]
    pub grace_days: u32,
    /// Default: a new random id.
    #[arg(long)]
    pub license_id: Option<String>,
    /// Currency of the unit prices (payg).
    #[arg(long, default_value = "USD")]
    pub currency: String,
    /// Tiered unit prices of one dimension (payg), e.g. `aku_hours:0=0.12,10000=0.10`: from
    /// 0 units a month on 0.12 each, from 10000 on 0.10. Repeatable.
    #[arg(long)]
    pub price: Vec<String>,
    /// The marketplace listing a pay-as-you-go license is billed through:
    /// `aws:PRODUCT_CODE` or `alibaba:SERVICE_ID` (optional).
    #[arg(long)]
    pub listing: Option<String>,
}

pub fn parse_time(field: &str, text: &str) -> anyhow::Result<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t);
    }
    let date = time::Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .with_context(|| format!("--{field} {text:?}: expected YYYY-MM-DD or an RFC 3339 time"))?;
    Ok(date.midnight().assume_utc())
}

/// `aku_hours:0=0.12,10000=0.10`
pub fn parse_price(text: &str) -> anyhow::Result<DimensionPrice> {
    let (dimension, tiers) = text
        .split_once(':')
        .with_context(|| format!("--price {text:?}: expected DIMENSION:FROM=PRICE,..."))?;
    let tiers = tiers
        .split(',')
        .map(|tier| {
            let (from, price) = tier
                .split_once('=')
                .with_context(|| format!("--price tier {tier:?}: expected FROM=PRICE"))?;
            Ok(PriceTier {
                from_quantity: from.trim().parse().with_context(|| {
                    format!("--price tier {tier:?}: FROM is not a whole number")
                })?,
                unit_price: price
                    .trim()
                    .parse()
                    .with_context(|| format!("--price tier {tier:?}: PRICE is not a decimal"))?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(DimensionPrice {
        dimension: dimension.trim().to_string(),
        tiers,
    })
}

pub fn issue(args: IssueArgs, now: OffsetDateTime) -> anyhow::Result<String> {
    let (key_id, signing_key) = vendor::read_signing_key(&args.signing_key)?;
    let billing =
        BillingModel::parse(&args.billing).context("--billing must be prepaid, payg or trial")?;
    let starts_at = args
        .starts
        .as_deref()
        .map(|s| parse_time("starts", s))
        .transpose()?
        .unwrap_or(now);
    let issued_at = args
        .issued
        .as_deref()
        .map(|s| parse_time("issued", s))
        .transpose()?
        .unwrap_or(now);
    let expires_at = match (args.months, args.expires.as_deref()) {
        (Some(0), _) => bail!("--months must be at least 1"),
        (Some(months), _) => {
            license::add_months(starts_at, months).context("--months is too large")?
        }
        (None, Some(text)) => parse_time("expires", text)?,
        (None, None) => bail!("give --months or --expires"),
    };
    if expires_at <= starts_at {
        bail!("--expires must be after the start ({})", starts_at.date());
    }
    if args.aku == Some(0) {
        bail!("--aku must be at least 1");
    }
    let pricing = if args.price.is_empty() {
        None
    } else {
        Some(Pricing {
            currency: args.currency.clone(),
            dimensions: args
                .price
                .iter()
                .map(|p| parse_price(p))
                .collect::<anyhow::Result<_>>()?,
        })
    };
    let payload = LicensePayload {
        format: license::FORMAT_VERSION,
        key_id,
        license_id: args.license_id.unwrap_or_else(|| {
            format!(
                "LIC-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12].to_uppercase()
            )
        }),
        customer: args.customer,
        installation_id: args.installation_id.trim().to_string(),
        billing,
        aku_quota: args.aku,
        max_aku_per_instance: args.max_aku_per_instance,
        issued_at,
        starts_at,
        expires_at,
        grace_days: args.grace_days,
        pricing,
        listing: args
            .listing
            .as_deref()
            .map(license::Listing::parse)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--listing: {e}"))?,
    };
    license::issue(&payload, &signing_key).map_err(|e| anyhow::anyhow!("{e}"))
}
