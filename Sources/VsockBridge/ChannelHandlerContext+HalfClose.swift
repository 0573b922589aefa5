import NIOCore

/// Bridge connections allow half-closure (tunnels need it); on a framed connection a half-close is the end, so it
/// closes the connection. Any other event goes on.
package func closeOnHalfClose(context: ChannelHandlerContext, event: Any) {
    if let event = event as? ChannelEvent, event == .inputClosed {
        context.close(promise: nil)
    } else {
        context.fireUserInboundEventTriggered(event)
    }
}
