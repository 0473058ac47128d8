//! Configs of topics and brokers: DescribeConfigs and IncrementalAlterConfigs.
//!
//! A broker's own configs (and its loggers) go to that broker; a topic's, and the brokers'
//! cluster-wide defaults, go to any node (alterations to "the controller", which forwards).
//! A change is applied by the controller first and reaches every broker's view through the
//! metadata log: a describe right after an alter on another node may still show the old value.

use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{
    DescribeConfigsRequest, DescribeConfigsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::client::{AdminClient, Route};
use super::error::{check, AdminError};
use super::topics::not_controller;

/// What a config belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigResource {
    /// A topic.
    Topic(String),
    /// One broker, by node id (its `DYNAMIC_BROKER_CONFIG`s).
    Broker(i32),
    /// Every broker (`DYNAMIC_DEFAULT_BROKER_CONFIG`s).
    BrokerDefault,
    /// One broker's log4j loggers.
    BrokerLogger(i32),
}

impl ConfigResource {
    fn kind(&self) -> i8 {
        match self {
            ConfigResource::Topic(_) => 2,
            ConfigResource::Broker(_) | ConfigResource::BrokerDefault => 4,
            ConfigResource::BrokerLogger(_) => 8,
        }
    }

    fn name(&self) -> StrBytes {
        StrBytes::from_string(match self {
            ConfigResource::Topic(name) => name.clone(),
            ConfigResource::Broker(id) | ConfigResource::BrokerLogger(id) => id.to_string(),
            ConfigResource::BrokerDefault => String::new(),
        })
    }

    /// Where a request about it goes; `change`: an alteration rather than a read.
    fn route(&self, change: bool) -> Route {
        match self {
            ConfigResource::Broker(id) | ConfigResource::BrokerLogger(id) => Route::Node(*id),
            _ if change => Route::Controller,
            _ => Route::Any,
        }
    }
}

/// Where a config's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// Set on the topic.
    DynamicTopic,
    /// Set on this broker at run time.
    DynamicBroker,
    /// Set on every broker at run time.
    DynamicDefaultBroker,
    /// The broker's `server.properties`.
    StaticBroker,
    /// Kafka's default.
    Default,
    /// A broker logger's level set at run time.
    DynamicBrokerLogger,
    /// Any other (client metrics, group configs...).
    Other(i8),
}

impl From<i8> for ConfigSource {
    fn from(v: i8) -> Self {
        match v {
            1 => ConfigSource::DynamicTopic,
            2 => ConfigSource::DynamicBroker,
            3 => ConfigSource::DynamicDefaultBroker,
            4 => ConfigSource::StaticBroker,
            5 => ConfigSource::Default,
            6 => ConfigSource::DynamicBrokerLogger,
            other => ConfigSource::Other(other),
        }
    }
}

/// One config as DescribeConfigs reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// Its name, e.g. `retention.ms`.
    pub name: String,
    /// Its value (`None` if sensitive, or unset without default).
    pub value: Option<String>,
    /// Where the value comes from.
    pub source: ConfigSource,
    /// Cannot be altered.
    pub read_only: bool,
    /// A password or key: the value is never sent.
    pub sensitive: bool,
}

/// One change of an IncrementalAlterConfigs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterConfig {
    /// Set `name` to `value`.
    Set(String, String),
    /// Remove `name` (back to the default, or to the level above).
    Delete(String),
    /// Add `value` to the list `name`.
    Append(String, String),
    /// Remove `value` from the list `name`.
    Subtract(String, String),
}

impl AlterConfig {
    fn to_wire(&self) -> AlterableConfig {
        let (name, op, value) = match self {
            AlterConfig::Set(n, v) => (n, 0, Some(v)),
            AlterConfig::Delete(n) => (n, 1, None),
            AlterConfig::Append(n, v) => (n, 2, Some(v)),
            AlterConfig::Subtract(n, v) => (n, 3, Some(v)),
        };
        AlterableConfig::default()
            .with_name(StrBytes::from_string(name.clone()))
            .with_config_operation(op)
            .with_value(value.map(|v| StrBytes::from_string(v.clone())))
    }
}

impl AdminClient {
    /// The configs of `resource`: all, or only those named in `keys`.
    pub async fn describe_configs(
        &self,
        resource: &ConfigResource,
        keys: Option<&[&str]>,
    ) -> Result<Vec<ConfigEntry>, AdminError> {
        let build = |_v: i16| {
            let keys = keys.map(|k| {
                k.iter()
                    .map(|k| StrBytes::from_string((*k).to_owned()))
                    .collect()
            });
            let wanted = DescribeConfigsResource::default()
                .with_resource_type(resource.kind())
                .with_resource_name(resource.name())
                .with_configuration_keys(keys);
            DescribeConfigsRequest::default().with_resources(vec![wanted])
        };
        let check_r = |r: &DescribeConfigsResponse| {
            not_controller(
                r.results
                    .iter()
                    .map(|x| (x.error_code, x.error_message.as_ref())),
            )
        };
        let r = self.request(resource.route(false), build, check_r).await?;
        let result = r
            .results
            .first()
            .ok_or_else(|| AdminError::Config("DescribeConfigs answered no resource".into()))?;
        check(result.error_code, result.error_message.as_deref())?;
        let mut entries: Vec<ConfigEntry> = result
            .configs
            .iter()
            .map(|c| ConfigEntry {
                name: c.name.to_string(),
                value: c.value.as_ref().map(|v| v.to_string()),
                source: ConfigSource::from(c.config_source),
                read_only: c.read_only,
                sensitive: c.is_sensitive,
            })
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// One config of `resource`, `None` if the node does not report it.
    pub async fn describe_config(
        &self,
        resource: &ConfigResource,
        key: &str,
    ) -> Result<Option<ConfigEntry>, AdminError> {
        let entries = self.describe_configs(resource, Some(&[key])).await?;
        Ok(entries.into_iter().find(|e| e.name == key))
    }

    /// IncrementalAlterConfigs of one resource: all `changes` or none.
    pub async fn incremental_alter_configs(
        &self,
        resource: &ConfigResource,
        changes: &[AlterConfig],
    ) -> Result<(), AdminError> {
        let build = |_v: i16| {
            let altered = AlterConfigsResource::default()
                .with_resource_type(resource.kind())
                .with_resource_name(resource.name())
                .with_configs(changes.iter().map(AlterConfig::to_wire).collect());
            IncrementalAlterConfigsRequest::default().with_resources(vec![altered])
        };
        let check_r = |r: &IncrementalAlterConfigsResponse| {
            not_controller(
                r.responses
                    .iter()
                    .map(|x| (x.error_code, x.error_message.as_ref())),
            )
        };
        let r = self.request(resource.route(true), build, check_r).await?;
        let result = r.responses.first().ok_or_else(|| {
            AdminError::Config("IncrementalAlterConfigs answered no resource".into())
        })?;
        Ok(check(result.error_code, result.error_message.as_deref())?)
    }
}
