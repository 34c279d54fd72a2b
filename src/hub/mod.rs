//! The hub (`ourocodus serve`): a long-lived team host several clients attach to.
//! So far its front door: who may reach it and where clients find it (`access`),
//! the WebSocket upgrade (`upgrade`), the listener (`serve`), one connection's
//! queues (`connection`), the AHP commands answered on it (`ahp`) and the
//! JSON-RPC frames written back (`rpc`). Knows nothing of the core's state yet:
//! no sessions or chats are served.

pub mod access;
pub mod acp_socket;
pub mod ahp;
pub mod connection;
pub mod host;
pub mod http;
pub mod monitor;
pub mod rpc;
pub mod serve;
pub mod upgrade;
