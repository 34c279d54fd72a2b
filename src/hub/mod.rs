//! The hub (`ourocodus serve`): a long-lived team host several clients attach to.
//! Its front door: who may reach it and where clients find it (`access`), what a
//! browser must show (`browser`: its Origin, its session's cookie and page key),
//! the WebSocket upgrade (`upgrade`), the listener (`serve`) and its connection
//! pools (`doorway`), one AHP connection's queues (`connection`), the AHP commands
//! answered on it (`ahp`), the team's AHP view (`host`) and the JSON-RPC frames
//! written back (`rpc`); ACP clients of the hosted core on `/acp` (`acp_socket`),
//! and the other end of those, `ourocodus acp --attach` (`attach`); on the same
//! port, a plain HTTP request gets the web monitor's page (`http`, `monitor`) and
//! its login (`login_page`), with the credentials a running hub takes (`keys`: the
//! token file watched, the browser logins of `login_book`) and the links `ourocodus
//! login-link` asks for (`login_link`) and the page keys a browser session renews
//! (`page_key`). Each connection is plain TCP or TLS (`stream`, `tls`). Knows
//! nothing of the core's insides.

pub mod access;
pub mod acp_socket;
pub mod ahp;
pub mod attach;
pub mod browser;
pub mod connection;
pub mod doorway;
pub mod host;
pub mod http;
pub mod keys;
pub mod login_book;
pub mod login_link;
pub mod login_page;
pub mod monitor;
pub mod page_key;
pub mod rpc;
pub mod serve;
pub mod stream;
pub mod tls;
pub mod upgrade;
