package rfq.host;

import io.aeron.ExclusivePublication;
import io.aeron.Image;
import io.aeron.Publication;
import io.aeron.cluster.codecs.CloseReason;
import io.aeron.cluster.service.ClientSession;
import io.aeron.cluster.service.Cluster;
import io.aeron.cluster.service.ClusteredService;
import io.aeron.logbuffer.Header;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;

import io.aeron.logbuffer.FragmentHandler;
import io.aeron.FragmentAssembler;
import org.agrona.ExpandableArrayBuffer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A {@link ClusteredService} that hosts a Python service with one primitive-only call per event.
 *
 * <p>Each log message is copied into {@link #inbound()}, its session id, timestamp and length into
 * {@link #args()} (three little-endian slots: int64, int64, int64), and {@link PythonService#onMessage}
 * is called;
 * Python writes its answer into {@link #outbound()} as a sequence of action records and returns
 * their total length. The host then carries the actions out, in order:
 * <pre>
 *   record := kind:int32 length:int32 arg0:int64 arg1:int64 payload[length] padding-to-8
 *   kind 1 REPLY           arg0 = cluster session id,  payload = frame for that session
 *   kind 2 BROADCAST       payload = frame for every open session
 *   kind 3 SCHEDULE_TIMER  arg0 = correlation id, arg1 = deadline (cluster time)
 *   kind 4 CANCEL_TIMER    arg0 = correlation id
 * </pre>
 * Replies on followers go to Aeron's stand-in sessions, which drop them, as for any service.
 * Frames too large for the inbound buffer are counted and skipped (deterministically on every member);
 * an exception thrown by Python is counted and the host goes on with the next message.
 */
public final class ServiceHost implements ClusteredService
{
    public static final int HEADER_LENGTH = 24;
    public static final int ARGS_LENGTH = 24;
    public static final int REPLY = 1;
    public static final int BROADCAST = 2;
    public static final int SCHEDULE_TIMER = 3;
    public static final int CANCEL_TIMER = 4;
    private static final int RETRY_ATTEMPTS = 100_000;

    private final PythonService service;
    private final ByteBuffer inboundBytes;
    private final ByteBuffer outboundBytes;
    private final UnsafeBuffer inbound;
    private final UnsafeBuffer outbound;
    private final ByteBuffer argsBytes;
    private final UnsafeBuffer args;
    private Cluster cluster;
    private IdleStrategy idle;
    private long oversizedFrames;
    private long serviceErrors;
    private long failedOffers;
    private Throwable lastError;

    /**
     * @param service  the Python side.
     * @param inbound  direct buffer each frame is copied into; its capacity is the largest frame accepted.
     * @param outbound direct buffer the service writes its action records into.
     * @param args     direct buffer of at least {@link #ARGS_LENGTH} bytes for the arguments of each call.
     */
    public ServiceHost(
        final PythonService service, final ByteBuffer inbound, final ByteBuffer outbound, final ByteBuffer args)
    {
        if (args.capacity() < ARGS_LENGTH)
        {
            throw new IllegalArgumentException("args buffer needs " + ARGS_LENGTH + " bytes");
        }
        this.argsBytes = args.order(ByteOrder.LITTLE_ENDIAN);
        this.args = new UnsafeBuffer(argsBytes);
        this.service = service;
        this.inboundBytes = inbound.order(ByteOrder.LITTLE_ENDIAN);
        this.outboundBytes = outbound.order(ByteOrder.LITTLE_ENDIAN);
        this.inbound = new UnsafeBuffer(inboundBytes);
        this.outbound = new UnsafeBuffer(outboundBytes);
    }

    /** The buffer each frame is copied into before Python is called. */
    public ByteBuffer inbound()
    {
        return inboundBytes;
    }

    /** The buffer holding the arguments of the current call. */
    public ByteBuffer args()
    {
        return argsBytes;
    }

    /** The buffer Python writes its action records into. */
    public ByteBuffer outbound()
    {
        return outboundBytes;
    }

    public long oversizedFrames()
    {
        return oversizedFrames;
    }

    public long serviceErrors()
    {
        return serviceErrors;
    }

    public long failedOffers()
    {
        return failedOffers;
    }

    public Throwable lastError()
    {
        return lastError;
    }

    public Cluster cluster()
    {
        return cluster;
    }

    public void onStart(final Cluster cluster, final Image snapshotImage)
    {
        this.cluster = cluster;
        this.idle = cluster.idleStrategy();
        service.onStart(cluster, snapshotImage);
    }

    public void onSessionOpen(final ClientSession session, final long timestamp)
    {
        int length = 0;
        try
        {
            setArgs(session.id(), timestamp, 0);
            length = service.onSessionOpen();
        }
        catch (final Throwable error)
        {
            recordError(error);
        }
        execute(length);
    }

    public void onSessionClose(final ClientSession session, final long timestamp, final CloseReason closeReason)
    {
        int length = 0;
        try
        {
            setArgs(session.id(), timestamp, 0);
            length = service.onSessionClose();
        }
        catch (final Throwable error)
        {
            recordError(error);
        }
        execute(length);
    }

    public void onSessionMessage(
        final ClientSession session,
        final long timestamp,
        final DirectBuffer buffer,
        final int offset,
        final int length,
        final Header header)
    {
        if (length > inbound.capacity())
        {
            oversizedFrames++;
            return;
        }
        buffer.getBytes(offset, inbound, 0, length);
        int written = 0;
        try
        {
            setArgs(session.id(), timestamp, length);
            written = service.onMessage();
        }
        catch (final Throwable error)
        {
            recordError(error);
        }
        execute(written);
    }

    public void onTimerEvent(final long correlationId, final long timestamp)
    {
        int written = 0;
        try
        {
            setArgs(correlationId, timestamp, 0);
            written = service.onTimer();
        }
        catch (final Throwable error)
        {
            recordError(error);
        }
        execute(written);
    }

    public void onTakeSnapshot(final ExclusivePublication snapshotPublication)
    {
        service.onTakeSnapshot(snapshotPublication);
    }

    public void onRoleChange(final Cluster.Role newRole)
    {
        setArgs(newRole.code(), 0, 0);
        service.onRoleChange();
    }

    public void onTerminate(final Cluster cluster)
    {
        service.onTerminate();
    }

    /**
     * Read a whole snapshot image (until end of stream) into one array of length-prefixed records:
     * {@code [int32 little-endian length][record bytes]...}. One call, so Python pays one crossing.
     *
     * @throws IllegalStateException if the image closes before its end of stream (a torn snapshot).
     */
    public static byte[] readSnapshot(final Image image, final IdleStrategy idle)
    {
        final ExpandableArrayBuffer records = new ExpandableArrayBuffer(64 * 1024);
        final int[] position = new int[1];
        final FragmentHandler handler = (buffer, offset, length, header) ->
        {
            records.putInt(position[0], length, ByteOrder.LITTLE_ENDIAN);
            records.putBytes(position[0] + 4, buffer, offset, length);
            position[0] += 4 + length;
        };
        final FragmentAssembler assembler = new FragmentAssembler(handler);
        idle.reset();
        while (!image.isEndOfStream())
        {
            final int fragments = image.poll(assembler, 100);
            if (0 == fragments)
            {
                if (image.isClosed())
                {
                    throw new IllegalStateException("snapshot image closed before its end of stream");
                }
                idle.idle();
            }
            else
            {
                idle.reset();
            }
        }
        return Arrays.copyOf(records.byteArray(), position[0]);
    }

    /**
     * Write length-prefixed records (the format of {@link #readSnapshot}) to a snapshot publication,
     * one message each, retrying back pressure.
     *
     * @throws IllegalStateException if the publication is closed or not connected.
     */
    public static void writeSnapshot(final ExclusivePublication publication, final byte[] records, final IdleStrategy idle)
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(records);
        int position = 0;
        while (position < records.length)
        {
            final int length = buffer.getInt(position, ByteOrder.LITTLE_ENDIAN);
            final int offset = position + 4;
            idle.reset();
            long result;
            while ((result = publication.offer(buffer, offset, length)) < 0)
            {
                if (result == Publication.CLOSED || result == Publication.NOT_CONNECTED ||
                    result == Publication.MAX_POSITION_EXCEEDED)
                {
                    throw new IllegalStateException("snapshot publication refused a record: " + result);
                }
                idle.idle();
            }
            position = offset + length;
        }
    }

    private void setArgs(final long first, final long second, final long third)
    {
        args.putLong(0, first);
        args.putLong(8, second);
        args.putLong(16, third);
    }

    private void recordError(final Throwable error)
    {
        serviceErrors++;
        lastError = error;
    }

    private void execute(final int totalLength)
    {
        if (totalLength <= 0)
        {
            return;
        }
        if (totalLength > outbound.capacity())
        {
            recordError(new IllegalStateException("action records overran the outbound buffer: " + totalLength));
            return;
        }

        int position = 0;
        while (position + HEADER_LENGTH <= totalLength)
        {
            final int kind = outbound.getInt(position);
            final int length = outbound.getInt(position + 4);
            final long arg0 = outbound.getLong(position + 8);
            final long arg1 = outbound.getLong(position + 16);
            final int payload = position + HEADER_LENGTH;
            switch (kind)
            {
                case REPLY:
                {
                    final ClientSession session = cluster.getClientSession(arg0);
                    if (null != session)
                    {
                        offer(session, payload, length);
                    }
                    break;
                }
                case BROADCAST:
                    for (final ClientSession session : cluster.clientSessions())
                    {
                        offer(session, payload, length);
                    }
                    break;
                case SCHEDULE_TIMER:
                    idle.reset();
                    while (!cluster.scheduleTimer(arg0, arg1))
                    {
                        idle.idle();
                    }
                    break;
                case CANCEL_TIMER:
                    cluster.cancelTimer(arg0);
                    break;
                default:
                    recordError(new IllegalStateException("unknown action kind " + kind + " at " + position));
                    return;
            }
            position = payload + ((length + 7) & ~7);
        }
    }

    private void offer(final ClientSession session, final int offset, final int length)
    {
        long result = session.offer(outbound, offset, length);
        if (result > 0)
        {
            return;
        }
        idle.reset();
        int attempts = 0;
        while ((result == Publication.BACK_PRESSURED || result == Publication.ADMIN_ACTION) &&
            ++attempts < RETRY_ATTEMPTS)
        {
            idle.idle();
            result = session.offer(outbound, offset, length);
        }
        if (result < 0)
        {
            failedOffers++;
        }
    }
}
