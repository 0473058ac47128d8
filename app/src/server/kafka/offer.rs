//! What the Kafka provisioner offers on this host: the security the create form may choose,
//! and why a spec is refused before anything is recorded.

use super::settings::NO_PUBLIC_ADDRESS;
use super::{KafkaProvisioner, MTLS_NEEDS_TLS};
use crate::domain::instance_spec::{
    ClientAuth, EndpointExposure, InstanceSpec, SpecError, TransitEncryption,
};
use crate::server::provisioner::SupportedSecurity;

impl KafkaProvisioner {
    /// Why this host cannot make `spec` (before anything is recorded), if it cannot.
    pub(super) fn refusal_of(&self, spec: &InstanceSpec) -> Option<SpecError> {
        let refuse = |field, message: &str| {
            Some(SpecError {
                field,
                message: message.into(),
            })
        };
        match spec.client_auth {
            ClientAuth::Anonymous | ClientAuth::SaslScram | ClientAuth::SaslPlain => {}
            ClientAuth::Mtls if spec.transit_encryption != TransitEncryption::Tls => {
                return refuse("transit_encryption", MTLS_NEEDS_TLS)
            }
            ClientAuth::Mtls => {}
        }
        if spec.endpoint_exposure == EndpointExposure::Internet && self.settings.public.is_none() {
            return refuse("endpoint_exposure", NO_PUBLIC_ADDRESS);
        }
        if let Err(too_much) = self.capacity(None, spec.size_aku) {
            return refuse("size_aku", &too_much.to_string());
        }
        None
    }

    /// What the create form offers on this host.
    pub(super) fn security_offered(&self) -> SupportedSecurity {
        SupportedSecurity {
            client_auth: vec![
                ("anonymous", None),
                ("sasl_scram", None),
                ("sasl_plain", None),
                ("mtls", None),
            ],
            transit_encryption: vec![("tls", None), ("plaintext", None)],
            internet: match self.settings.public {
                Some(_) => None,
                None => Some(NO_PUBLIC_ADDRESS),
            },
        }
    }
}
