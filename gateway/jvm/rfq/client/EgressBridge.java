package rfq.client;

import io.aeron.cluster.client.EgressListener;
import io.aeron.cluster.codecs.AdminRequestType;
import io.aeron.cluster.codecs.AdminResponseCode;
import io.aeron.cluster.codecs.EventCode;
import io.aeron.logbuffer.Header;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The {@link EgressListener} of a Python cluster client: copies each egress frame into a buffer
 * shared with Python and calls {@link PythonEgress#onFrame()} without arguments.
 *
 * <p>Args layout (little endian): three int64 slots, see {@link PythonEgress}. Frames larger than the
 * frame buffer are counted in {@link #oversizedFrames()} and not delivered. Session events are kept
 * as the last one seen, for diagnostics; AeronCluster itself acts on them.
 */
public final class EgressBridge implements EgressListener
{
    public static final int ARGS_LENGTH = 24;

    private final PythonEgress sink;
    private final UnsafeBuffer frame;
    private final UnsafeBuffer args;
    private long oversizedFrames;
    private String lastSessionEvent = "";

    public EgressBridge(final PythonEgress sink, final ByteBuffer frame, final ByteBuffer args)
    {
        if (args.capacity() < ARGS_LENGTH)
        {
            throw new IllegalArgumentException("args buffer needs " + ARGS_LENGTH + " bytes");
        }
        this.sink = sink;
        this.frame = new UnsafeBuffer(frame);
        this.args = new UnsafeBuffer(args.order(ByteOrder.LITTLE_ENDIAN));
    }

    public long oversizedFrames()
    {
        return oversizedFrames;
    }

    public String lastSessionEvent()
    {
        return lastSessionEvent;
    }

    public void onMessage(
        final long clusterSessionId,
        final long timestamp,
        final DirectBuffer buffer,
        final int offset,
        final int length,
        final Header header)
    {
        if (length > frame.capacity())
        {
            oversizedFrames++;
            return;
        }
        buffer.getBytes(offset, frame, 0, length);
        args.putLong(0, clusterSessionId);
        args.putLong(8, timestamp);
        args.putLong(16, length);
        sink.onFrame();
    }

    public void onSessionEvent(
        final long correlationId,
        final long clusterSessionId,
        final long leadershipTermId,
        final int leaderMemberId,
        final EventCode code,
        final String detail)
    {
        lastSessionEvent = code + ": " + detail;
    }

    public void onNewLeader(
        final long clusterSessionId,
        final long leadershipTermId,
        final int leaderMemberId,
        final String ingressEndpoints)
    {
        args.putLong(0, leaderMemberId);
        args.putLong(8, leadershipTermId);
        args.putLong(16, 0);
        sink.onNewLeader();
    }

    public void onAdminResponse(
        final long clusterSessionId,
        final long correlationId,
        final AdminRequestType requestType,
        final AdminResponseCode responseCode,
        final String message,
        final DirectBuffer payload,
        final int payloadOffset,
        final int payloadLength)
    {
    }
}
