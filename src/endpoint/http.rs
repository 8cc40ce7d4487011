//! placeholder
use super::*;
pub async fn start(
    _c: &str,
    _k: ChannelKind,
    _a: SocketAddr,
    _x: EndpointContext,
) -> Result<Running, EndpointError> {
    unimplemented!()
}
