//! Creating an instance: every setting of PRODUCT.md, a sizing helper that proposes the AKU
//! from expected throughput, and a live preview of the quota after creation that disables
//! submit (with the reason) when the instance would not fit. The server checks everything
//! again; its errors show next to their fields.

use crate::api::error::{field_error, general_error};
use crate::api::instances::{instance_form_context, CreateInstance, NewInstanceContext};
use crate::components::field::Field;
use crate::components::page_data::page_data;
use crate::components::select_field::SelectField;
use crate::domain::instance::{NAME_MAX, NAME_MIN};
use crate::domain::instance_spec::{
    self, CLIENT_AUTH, DEPLOYMENTS, ENDPOINT_EXPOSURE, KAFKA_VERSIONS, TRANSIT_ENCRYPTION,
    WAL_MODES,
};
use crate::domain::license::MIN_INSTANCE_AKU;
use crate::domain::sizing;
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NewInstancePage() -> impl IntoView {
    let context = page_data(|| (), |_| instance_form_context());
    view! {
        <Title text="Create instance" />
        <h1>"Create instance"</h1>
        <p>
            <a href="/instances">"← Instances"</a>
        </p>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                context.await
                    .map(|ctx| {
                        if ctx.can_change {
                            Either::Left(view! { <CreateForm ctx /> })
                        } else {
                            Either::Right(
                                view! {
                                    <p class="notice" data-testid="read-only">
                                        "Creating instances needs the operator role; you can read instances only."
                                    </p>
                                },
                            )
                        }
                    })
            })}
        </Suspense>
    }
}

/// Parses a whole number typed in a field; empty or garbage is None.
fn number(text: &str) -> Option<u32> {
    text.trim().parse().ok()
}

#[component]
fn CreateForm(ctx: NewInstanceContext) -> impl IntoView {
    let action = ServerAction::<CreateInstance>::new();
    let result = action.value();
    let err = move |field: &'static str| Signal::derive(move || field_error(&result.get(), field));

    let three_zones = RwSignal::new(false);
    let size = RwSignal::new(MIN_INSTANCE_AKU.to_string());
    let write_mib = RwSignal::new(String::new());
    let read_mib = RwSignal::new(String::new());

    let proposal = move || {
        let (w, r) = (number(&write_mib.get()), number(&read_mib.get()));
        (w.is_some() || r.is_some()).then(|| sizing::proposed_aku(w.unwrap_or(0), r.unwrap_or(0)))
    };
    let quota = ctx.quota.clone();
    let max = quota.max_per_instance;
    // Why the form cannot be submitted as it is, if so: the server's own rule and words
    // (`instance_spec::parse_size`, compiled into the page), then the quota.
    let blocked = {
        let quota = quota.clone();
        move || match instance_spec::parse_size(&size.get(), max) {
            Err(e) => Some(e.to_string()),
            Ok(n) => quota.check(n).err(),
        }
    };
    let used = quota.used_aku;
    let limit = quota.quota;
    let after = move || used.saturating_add(number(&size.get()).unwrap_or(0));
    let zones = ctx.zones.clone();
    let zone = move |i: usize| zones.get(i).cloned().unwrap_or_default();
    let subnet_hint = format!("e.g. {}", ctx.subnet_example);
    let blocked_for_button = blocked.clone();

    view! {
        <ActionForm action=action attr:class="form wide-form" attr:novalidate="" attr:data-testid="create-form">
            <fieldset>
                <legend>"Instance"</legend>
                <Field label="Name" name="name" error=err("name") hint=format!("{NAME_MIN} to {NAME_MAX} lowercase letters, digits or hyphens, starting with a letter.") />
                <div class="field" class:has-error=move || err("description").get().is_some()>
                    <label for="description">"Description"</label>
                    <textarea id="description" name="description" rows="2"></textarea>
                    <p class="field-error" role="alert">{move || err("description").get()}</p>
                </div>
                <SelectField label="Kafka version" name="kafka_version" choices=KAFKA_VERSIONS error=err("kafka_version") />
            </fieldset>
            <fieldset>
                <legend>"Placement and network"</legend>
                <SelectField
                    label="Deployment"
                    name="deployment"
                    choices=DEPLOYMENTS
                    error=err("deployment")
                    hint="Three zones survive the loss of a zone."
                    on_change=Callback::new(move |v: String| three_zones.set(v == "three_zones"))
                />
                <Field label="VPC ID" name="vpc_id" error=err("vpc_id") hint="The network the brokers attach to." />
                <Field label=zone_label(0) name="subnet_1" error=err("subnet_1") />
                <p class="hint">{format!("Zone {} · {subnet_hint}", zone(0))}</p>
                <div class:hidden=move || !three_zones.get() data-testid="more-subnets">
                    <Field label=zone_label(1) name="subnet_2" error=err("subnet_2") />
                    <p class="hint">{format!("Zone {}", zone(1))}</p>
                    <Field label=zone_label(2) name="subnet_3" error=err("subnet_3") />
                    <p class="hint">{format!("Zone {}", zone(2))}</p>
                </div>
                <p class="hint">{format!("Region {}; a one-zone instance uses the first subnet only.", ctx.region)}</p>
            </fieldset>
            <fieldset>
                <legend>"Storage and security"</legend>
                <Field label="Data bucket" name="data_bucket" error=err("data_bucket") hint="Object storage bucket for the data, e.g. acme-kafka-data." />
                <SelectField label="Write-ahead log" name="wal_mode" choices=WAL_MODES error=err("wal_mode") />
                <SelectField label="Client authentication" name="client_auth" choices=CLIENT_AUTH error=err("client_auth")
                    allowed=ctx.allowed_client_auth.clone().unwrap_or_else(|| CLIENT_AUTH.iter().map(|c| c.id.to_string()).collect()) />
                <SelectField label="Transit encryption" name="transit_encryption" choices=TRANSIT_ENCRYPTION error=err("transit_encryption")
                    allowed=ctx.allowed_transit_encryption.clone().unwrap_or_else(|| TRANSIT_ENCRYPTION.iter().map(|c| c.id.to_string()).collect()) />
                <SelectField label="Endpoint exposure" name="endpoint_exposure" choices=ENDPOINT_EXPOSURE error=err("endpoint_exposure")
                    hint="An internet endpoint needs SASL/SCRAM and TLS."
                    allowed=ctx.allowed_endpoint_exposure.clone().unwrap_or_else(|| ENDPOINT_EXPOSURE.iter().map(|c| c.id.to_string()).collect()) />
                {(!ctx.security_notes.is_empty()).then(|| view! {
                    <ul class="hint" data-testid="security-note">
                        {ctx.security_notes.iter().map(|n| view! { <li>{n.clone()}</li> }).collect_view()}
                    </ul>
                })}
                <div class="field" class:has-error=move || err("tags").get().is_some()>
                    <label for="tags">"Tags"</label>
                    <textarea id="tags" name="tags" rows="3" placeholder="team=payments"></textarea>
                    <p class="hint">"key=value, one per line; fixed after creation."</p>
                    <p class="field-error" role="alert">{move || err("tags").get()}</p>
                </div>
            </fieldset>
            <fieldset>
                <legend>"Size"</legend>
                <div class="sizing" data-testid="sizing-helper">
                    <p class="hint">
                        {format!(
                            "Sizing helper: one AKU serves {} MiB/s of writes or {} MiB/s of reads; the larger need wins.",
                            sizing::WRITE_MIB_S_PER_AKU,
                            sizing::READ_MIB_S_PER_AKU,
                        )}
                    </p>
                    <div class="inline-fields">
                        <label>
                            "Write MiB/s"
                            <input type="number" min="0" id="write_mib_s" prop:value=move || write_mib.get() on:input=move |ev| write_mib.set(event_target_value(&ev)) />
                        </label>
                        <label>
                            "Read MiB/s"
                            <input type="number" min="0" id="read_mib_s" prop:value=move || read_mib.get() on:input=move |ev| read_mib.set(event_target_value(&ev)) />
                        </label>
                        <button
                            type="button"
                            class="button-secondary"
                            data-testid="use-proposal"
                            disabled=move || proposal().is_none()
                            on:click=move |_| {
                                if let Some(p) = proposal() {
                                    size.set(p.to_string());
                                }
                            }
                        >
                            {move || match proposal() {
                                Some(p) => format!("Use {p} AKU"),
                                None => "Type expected throughput".to_string(),
                            }}
                        </button>
                    </div>
                    <p class="hint" data-testid="proposal">
                        {move || proposal().map(|p| {
                            let (w, r) = sizing::capacity(p);
                            format!("Proposed: {p} AKU (serves {w} MiB/s of writes, {r} MiB/s of reads).")
                        })}
                    </p>
                </div>
                <div class="field" class:has-error=move || err("size_aku").get().is_some()>
                    <label for="size_aku">"Size (AKU)"</label>
                    <input
                        type="number"
                        id="size_aku"
                        name="size_aku"
                        min=MIN_INSTANCE_AKU.to_string()
                        max=max.to_string()
                        prop:value=move || size.get()
                        on:input=move |ev| size.set(event_target_value(&ev))
                    />
                    <p class="hint">{format!("{MIN_INSTANCE_AKU} to {max} AKU.")}</p>
                    <p class="field-error" role="alert" data-testid="size-error">{move || err("size_aku").get()}</p>
                </div>
                <dl class="quota-preview" data-testid="quota-preview">
                    <dt>"In use now"</dt>
                    <dd data-testid="preview-used">{format!("{used} AKU")}</dd>
                    <dt>"After creation"</dt>
                    <dd data-testid="preview-after">{move || format!("{} AKU", after())}</dd>
                    <dt>"Left"</dt>
                    <dd data-testid="preview-left">
                        {move || match limit {
                            Some(q) => format!("{} AKU of {q}", q.saturating_sub(after())),
                            None => "no cap".to_string(),
                        }}
                    </dd>
                </dl>
            </fieldset>
            <p class="form-error" role="alert" data-testid="form-error">
                {move || general_error(&result.get())}
            </p>
            <p class="live-hint" data-testid="submit-blocked">{blocked.clone()}</p>
            <button
                type="submit"
                class="button-primary"
                data-testid="create-submit"
                disabled=move || action.pending().get() || blocked_for_button().is_some()
            >
                {move || if action.pending().get() { "Creating…" } else { "Create instance" }}
            </button>
        </ActionForm>
    }
}

fn zone_label(i: usize) -> &'static str {
    ["Subnet (zone 1)", "Subnet (zone 2)", "Subnet (zone 3)"][i]
}
