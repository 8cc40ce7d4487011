//! placeholder
use super::*;
pub async fn start(
    _c: &str,
    _a: SocketAddr,
    _x: EndpointContext,
) -> Result<Running, EndpointError> {
    unimplemented!()
}
