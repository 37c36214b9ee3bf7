package rfq.bench;

import io.aeron.ExclusivePublication;
import io.aeron.Image;
import io.aeron.cluster.codecs.CloseReason;
import io.aeron.cluster.service.ClientSession;
import io.aeron.cluster.service.Cluster;
import io.aeron.cluster.service.ClusteredService;
import io.aeron.logbuffer.Header;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.IdleStrategy;

/**
 * The reference for bench-echo: the same echo as the Python EchoService (copy the frame, offer it
 * back with retries), written in Java, so that the ratio of the two measures the Python host alone.
 */
public final class JavaEchoService implements ClusteredService
{
    private final org.agrona.concurrent.UnsafeBuffer frame =
        new org.agrona.concurrent.UnsafeBuffer(java.nio.ByteBuffer.allocateDirect(64 * 1024));
    private Cluster cluster;
    private IdleStrategy idle;
    private long messages;

    public void onStart(final Cluster cluster, final Image snapshotImage)
    {
        this.cluster = cluster;
        this.idle = cluster.idleStrategy();
    }

    public void onSessionOpen(final ClientSession session, final long timestamp)
    {
    }

    public void onSessionClose(final ClientSession session, final long timestamp, final CloseReason closeReason)
    {
    }

    public void onSessionMessage(
        final ClientSession session,
        final long timestamp,
        final DirectBuffer buffer,
        final int offset,
        final int length,
        final Header header)
    {
        buffer.getBytes(offset, frame, 0, length);
        messages++;
        long result;
        int tries = 0;
        while ((result = session.offer(frame, 0, length)) < 0 &&
            (result == io.aeron.Publication.BACK_PRESSURED || result == io.aeron.Publication.ADMIN_ACTION) &&
            ++tries < 10_000)
        {
            idle.idle();
        }
        idle.reset();
    }

    public void onTimerEvent(final long correlationId, final long timestamp)
    {
    }

    public void onTakeSnapshot(final ExclusivePublication snapshotPublication)
    {
    }

    public void onRoleChange(final Cluster.Role newRole)
    {
    }

    public void onTerminate(final Cluster cluster)
    {
    }

    public long messages()
    {
        return messages;
    }
}
