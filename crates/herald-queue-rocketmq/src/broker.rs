//! The connection of one queue to RocketMQ: a producer and client instances that read
//! queues by offset (plain pull, long-polled) from the brokers the name server lists, and
//! write the task, ledger and snapshot topics. Everything Herald-specific lives elsewhere;
//! this module only moves bytes.
//!
//! Not POP: the Rust broker 1.0 stores a POP checkpoint with its revive time as a *delay*
//! (`TIMER_DELAY_MS` = an epoch), which its timer rejects, so a popped message that is not
//! acked never comes back. Leases are kept in the ledger instead (module `census`).

pub(crate) use crate::client::client_error;
use crate::client::{create_topic, runtime_owner, start_instance, stored};
use crate::options::{Names, RocketMqQueueOptions};
use crate::pull::pull;
pub(crate) use crate::pull::{Pulled, QueueAddr, body_of};
use cheetah_string::CheetahString;
use herald_ports::StoreError;
use rocketmq_client_rust::{
    ClientConfig, ClientInstanceHandle, ClientRuntime, ClientRuntimeConfig, DefaultMQProducer,
    TelemetryHandle,
};
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::common::message::message_single::Message;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Ledger entries read (offset, body) and the offset to read next.
pub(crate) type LedgerPage = (Vec<(u64, Vec<u8>)>, u64);

/// Connections to the name server and brokers for one queue.
pub(crate) struct Broker {
    runtime: Arc<ClientRuntime>,
    producer: DefaultMQProducer,
    /// Routes and ledger reads. A client instance runs one request at a time.
    client: ClientInstanceHandle,
    /// Instances reserved for long polls: one holds its instance for the whole wait, so
    /// concurrent receives each take a free one.
    pollers: Vec<tokio::sync::Mutex<ClientInstanceHandle>>,
    pub names: Names,
    timeout_ms: u64,
    /// The readable queues of each task topic, indexed like `Topic::ALL`.
    queues: [Vec<QueueAddr>; 3],
    /// The ledger's single queue and the address of its broker.
    ledger: (MessageQueue, CheetahString),
    /// The snapshot topic's queue on the ledger's broker.
    snapshots: MessageQueue,
}

impl Broker {
    pub async fn connect(options: &RocketMqQueueOptions, node: &str) -> Result<Self, StoreError> {
        let runtime = ClientRuntime::try_new(
            runtime_owner()?
                .root_context()
                .component("herald-queue-rocketmq"),
            ClientRuntimeConfig::default(),
            TelemetryHandle::noop(),
        )
        .map_err(client_error("creating a RocketMQ client runtime"))?;
        let names = Names::new(&options.prefix);
        let timeout_ms = options.request_timeout.as_millis() as u64;
        let mut config = ClientConfig::new();
        config.set_namesrv_addr(options.name_server.as_str().into());
        config.set_instance_name(format!("herald-{node}").into());
        let mut producer = DefaultMQProducer::builder(runtime.clone())
            .client_config(config.clone())
            .producer_group(names.producer.as_str())
            .name_server_addr(options.name_server.as_str())
            .send_msg_timeout(timeout_ms as u32)
            .retry_times_when_send_failed(2)
            .build();
        producer
            .start()
            .await
            .map_err(client_error("starting the RocketMQ producer"))?;
        if options.create_topics {
            for topic in [&names.send, &names.retry, &names.result] {
                create_topic(&mut producer, topic, options.queues_per_topic).await?;
            }
            create_topic(&mut producer, &names.ledger, 1).await?;
            create_topic(&mut producer, &names.snapshot, 1).await?;
        }
        let client = start_instance(&runtime, &config).await?;
        let mut pollers = Vec::with_capacity(options.pollers);
        for _ in 0..options.pollers {
            pollers.push(tokio::sync::Mutex::new(
                start_instance(&runtime, &config).await?,
            ));
        }
        let mut broker = Self {
            runtime,
            producer,
            client,
            pollers,
            names,
            timeout_ms,
            queues: [Vec::new(), Vec::new(), Vec::new()],
            ledger: (MessageQueue::new(), CheetahString::new()),
            snapshots: MessageQueue::new(),
        };
        broker.resolve_routes().await?;
        Ok(broker)
    }

    /// Reads the routes of the task topics and the ledger (waiting up to 15 s for topics just
    /// created to reach the name server).
    async fn resolve_routes(&mut self) -> Result<(), StoreError> {
        for (index, topic) in herald_ports::Topic::ALL.into_iter().enumerate() {
            let name = self.names.topic(topic).to_owned();
            self.queues[index] = self.route(&name).await?;
        }
        let ledger = self.route(&self.names.ledger.clone()).await?;
        let first = ledger.into_iter().next().ok_or_else(|| {
            StoreError::Unavailable(format!("no broker holds {}", self.names.ledger))
        })?;
        self.snapshots =
            MessageQueue::from_parts(self.names.snapshot.as_str(), first.broker.clone(), 0);
        self.ledger = (
            MessageQueue::from_parts(self.names.ledger.as_str(), first.broker, 0),
            first.addr,
        );
        Ok(())
    }

    /// The readable queues of `topic`, ordered by broker name and queue id.
    async fn route(&self, topic: &str) -> Result<Vec<QueueAddr>, StoreError> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let route = self
                .client
                .topic_route(topic, self.timeout_ms)
                .await
                .ok()
                .flatten();
            let mut found = Vec::new();
            if let Some(route) = route {
                for data in &route.queue_datas {
                    let broker = route
                        .broker_datas
                        .iter()
                        .find(|b| b.broker_name() == &data.broker_name);
                    let Some(addr) = broker.and_then(|b| b.broker_addrs().get(&0)) else {
                        continue;
                    };
                    for queue in 0..data.read_queue_nums as i32 {
                        found.push(QueueAddr {
                            broker: data.broker_name.clone(),
                            addr: addr.clone(),
                            queue,
                        });
                    }
                }
            }
            if !found.is_empty() {
                found.sort_by(|a, b| (&a.broker, a.queue).cmp(&(&b.broker, b.queue)));
                return Ok(found);
            }
            if Instant::now() > deadline {
                return Err(StoreError::Unavailable(format!(
                    "RocketMQ topic {topic} has no route (is the broker registered?)"
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The readable queues of a task topic.
    pub fn queues(&self, topic: herald_ports::Topic) -> &[QueueAddr] {
        let index = match topic {
            herald_ports::Topic::Send => 0,
            herald_ports::Topic::Retry => 1,
            herald_ports::Topic::Result => 2,
        };
        &self.queues[index]
    }

    /// Stores one message on `topic` (any queue), delayed by `delay_level` if given, and
    /// returns once the broker stored it.
    pub async fn send(
        &self,
        topic: &str,
        key: &str,
        body: Vec<u8>,
        delay_level: Option<i32>,
    ) -> Result<(), StoreError> {
        let mut builder = Message::builder().topic(topic).key(key).body(body);
        if let Some(level) = delay_level {
            builder = builder.delay_level(level);
        }
        let message = builder
            .build()
            .map_err(client_error("building a RocketMQ message"))?;
        let sent = self
            .producer
            .send_with_timeout(message, self.timeout_ms)
            .await
            .map_err(client_error("sending to RocketMQ"))?;
        stored(sent.map(|s| s.send_status), topic)
    }

    /// Stores due messages (`(key, body)`) on `topic` with one request: a batch goes to one
    /// queue. Delayed messages cannot be batched (RocketMQ refuses a delay in a batch).
    pub async fn send_batch(
        &self,
        topic: &str,
        messages: Vec<(String, Vec<u8>)>,
    ) -> Result<(), StoreError> {
        let messages = messages
            .into_iter()
            .map(|(key, body)| {
                Message::builder()
                    .topic(topic)
                    .key(key)
                    .body(body)
                    .build()
                    .map_err(client_error("building a RocketMQ message"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let sent = self
            .producer
            .send_batch_with_timeout(messages, self.timeout_ms)
            .await
            .map_err(client_error("sending a batch to RocketMQ"))?;
        stored(Some(sent.send_status), topic)
    }

    /// Appends to the ledger's single queue; returns the entry's offset.
    pub async fn append_ledger(&self, body: Vec<u8>) -> Result<u64, StoreError> {
        let message = Message::builder()
            .topic(self.names.ledger.as_str())
            .body(body)
            .build()
            .map_err(client_error("building a RocketMQ ledger entry"))?;
        let sent = self
            .producer
            .send_to_queue_with_timeout(message, self.ledger.0.clone(), self.timeout_ms)
            .await
            .map_err(client_error("appending to the RocketMQ ledger"))?
            .ok_or_else(|| StoreError::Unavailable("the ledger append got no answer".into()))?;
        stored(Some(sent.send_status), &self.names.ledger)?;
        Ok(sent.queue_offset)
    }

    /// Reads up to `max` ledger entries from `offset`: the entries with their offsets and the
    /// offset to read next (which skips past entries the broker no longer keeps).
    pub async fn read_ledger(&self, offset: u64, max: i32) -> Result<LedgerPage, StoreError> {
        let queue = QueueAddr {
            broker: self.ledger.0.broker_name().clone(),
            addr: self.ledger.1.clone(),
            queue: 0,
        };
        let pulled = pull(
            &self.client,
            &self.names,
            &self.names.ledger,
            &queue,
            offset,
            max,
            0,
            self.timeout_ms,
        )
        .await?;
        let entries = pulled
            .messages
            .iter()
            .map(|m| (m.queue_offset() as u64, body_of(m)))
            .collect();
        Ok((entries, pulled.next))
    }

    /// Stores the parts of a snapshot, in order, on the snapshot queue.
    pub async fn write_snapshot(&self, parts: Vec<Vec<u8>>) -> Result<(), StoreError> {
        for body in parts {
            let message = Message::builder()
                .topic(self.names.snapshot.as_str())
                .body(body)
                .build()
                .map_err(client_error("building a RocketMQ snapshot part"))?;
            let sent = self
                .producer
                .send_to_queue_with_timeout(message, self.snapshots.clone(), self.timeout_ms)
                .await
                .map_err(client_error("writing a RocketMQ snapshot"))?;
            stored(sent.map(|s| s.send_status), &self.names.snapshot)?;
        }
        Ok(())
    }

    /// The bodies of the last `window` messages of the snapshot queue, in offset order.
    pub async fn read_snapshot_tail(&self, window: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let queue = QueueAddr {
            broker: self.snapshots.broker_name().clone(),
            addr: self.ledger.1.clone(),
            queue: 0,
        };
        let topic = self.names.snapshot.as_str();
        let probe = pull(
            &self.client,
            &self.names,
            topic,
            &queue,
            0,
            1,
            0,
            self.timeout_ms,
        )
        .await?;
        let mut at = probe.end.saturating_sub(window);
        let mut bodies = Vec::new();
        while at < probe.end {
            let pulled = pull(
                &self.client,
                &self.names,
                topic,
                &queue,
                at,
                32,
                0,
                self.timeout_ms,
            )
            .await?;
            if pulled.messages.is_empty() && pulled.next == at {
                break;
            }
            bodies.extend(pulled.messages.iter().map(body_of));
            at = pulled.next;
        }
        Ok(bodies)
    }

    /// Reads up to `max` messages of a task topic's queue from `offset`, holding the request
    /// up to `suspend` ms when none is there yet.
    pub async fn read_queue(
        &self,
        topic: &str,
        queue: &QueueAddr,
        offset: u64,
        max: i32,
        suspend: u64,
    ) -> Result<Pulled, StoreError> {
        if suspend == 0 {
            return pull(
                &self.client,
                &self.names,
                topic,
                queue,
                offset,
                max,
                0,
                self.timeout_ms,
            )
            .await;
        }
        let poller = self.free_poller().await;
        pull(
            &poller,
            &self.names,
            topic,
            queue,
            offset,
            max,
            0,
            self.timeout_ms,
        )
        .await
    }

    /// A long-poll instance nobody is using, or the next one to become free.
    async fn free_poller(&self) -> tokio::sync::MutexGuard<'_, ClientInstanceHandle> {
        for poller in &self.pollers {
            if let Ok(guard) = poller.try_lock() {
                return guard;
            }
        }
        let pick = rand::random_range(0..self.pollers.len());
        self.pollers[pick].lock().await
    }

    /// Closes the producer and client instance (the broker keeps every message).
    pub async fn shutdown(&mut self) {
        self.producer.shutdown().await;
        self.client.shutdown_owned().await;
        for poller in &self.pollers {
            poller.lock().await.shutdown_owned().await;
        }
        let _report = self.runtime.shutdown().await;
    }
}
