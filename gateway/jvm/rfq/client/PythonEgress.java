package rfq.client;

/**
 * What a Python cluster client implements (through a JPype proxy) behind {@link EgressBridge}.
 *
 * <p>Argument-free by design: the bridge writes each call's arguments into its shared args buffer
 * first (JPype 1.7.1 leaks about 32 bytes per primitive argument of a proxy call).
 */
public interface PythonEgress
{
    /** args: cluster session id, timestamp, frame length; the frame is in the frame buffer. */
    void onFrame();

    /** args: leader member id, leadership term id. */
    void onNewLeader();
}
