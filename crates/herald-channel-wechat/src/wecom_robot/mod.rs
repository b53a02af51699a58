//! WeCom group robots (`wecom_robot`): text (with mentions) and markdown posted to a group
//! chat through the robot's webhook key. No signature, no receipts; 20 messages a minute per
//! robot.
//!
//! - [`client`]: the channel, [`WecomRobotChannel`].
//! - [`errors`]: the error table.
//! - [`sim`]: the simulator (`/sim/wecom/cgi-bin/webhook/send`).

pub mod client;
pub mod errors;
pub mod sim;

pub use client::WecomRobotChannel;
