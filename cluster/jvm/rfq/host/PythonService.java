package rfq.host;

import io.aeron.ExclusivePublication;
import io.aeron.Image;
import io.aeron.cluster.service.Cluster;

/**
 * The narrow interface a Python service implements (through a JPype proxy) behind {@link ServiceHost}.
 *
 * <p>Per-event methods take no arguments at all: the host writes them into its shared
 * {@link ServiceHost#args()} buffer (and the frame into {@link ServiceHost#inbound()}) first. JPype
 * 1.7.1 leaks about 32 bytes for every primitive argument of a proxy call, so an argument-free call is
 * both the fast and the leak-free one. The service answers by writing action records into
 * {@link ServiceHost#outbound()} and returning their total length.
 */
public interface PythonService
{
    void onStart(Cluster cluster, Image snapshotImage);

    /** args: session id, timestamp. */
    int onSessionOpen();

    /** args: session id, timestamp. */
    int onSessionClose();

    /** args: session id, timestamp, frame length; the frame is in the inbound buffer. */
    int onMessage();

    /** args: correlation id, timestamp. */
    int onTimer();

    void onTakeSnapshot(ExclusivePublication snapshotPublication);

    /** args: the new role's code in the first slot. */
    void onRoleChange();

    void onTerminate();
}
