package rfq.bench;

import io.aeron.Publication;
import io.aeron.cluster.client.AeronCluster;
import io.aeron.cluster.client.EgressListener;
import io.aeron.cluster.codecs.EventCode;
import io.aeron.logbuffer.Header;
import io.aeron.security.CredentialsSupplier;
import org.agrona.DirectBuffer;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;

/**
 * The load generator of bench-cluster: an Aeron Cluster client in Java sending pre-encoded RFQ commands,
 * so that no Python (and no GIL) is on the client's path and what is measured is the cluster and the
 * service.
 *
 * <p>Commands arrive as one array of {@code [int32 little-endian length][SBE frame]} records, built in
 * Python with {@code rfq.codecs.rfq_sbe}. Each command's latency runs from the offer Aeron accepted to
 * the first egress event carrying the same correlationId. Where an event holds it (schema/rfq.xml):
 * <ul>
 * <li>{@code CommandRejected}, {@code InstrumentAdded}, {@code InstrumentEnabled}, {@code RfqCreated}
 * (templates 20..23), {@code StateQueried} (31) and anything else: an int64 at offset 8, right after the
 * 8-byte SBE header, first field of the body (the echo frames of the Python echo service too);</li>
 * <li>the addressed RFQ events {@code QuoteSubmitted} .. {@code RfqEnded} (templates 25..30):
 * {@code recipientUserId} (int32) first, then the optional correlationId (int64, null
 * {@code Long.MIN_VALUE}) at offset 12: only the copy addressed to the user who acted carries it;</li>
 * <li>{@code RfqInvited} (24): none.</li>
 * </ul>
 * Copies without a correlationId are counted as events and otherwise ignored; an {@code RfqEnded} with
 * reason EXPIRED (5, a uint8 at offset 28) and no correlationId is an expiry and is counted apart;
 * {@code CommandRejected} answers its command like any event and is also counted, because a valid
 * workload should see none. Only this class's SBE knowledge is those offsets, template ids and that
 * enum value: it does not depend on the generated codecs (it is compiled by {@code mvn package},
 * before sbe-tool generates them), and bench/cluster.py checks {@link #correlationIdOf} against
 * {@code rfq.codecs.rfq_sbe} before it measures anything.
 *
 * <p>Sends are paced at {@code ratePerSecond} (0 = as fast as the window allows) with at most
 * {@code window} commands unanswered; a paced run keeps to its schedule through a stall of the cluster
 * until the window is full, so a stall shows in the latencies of every command sent during it.
 *
 * <p>Nothing waits without bound: a closed session, a leader change, a refused offer or
 * {@code stallTimeoutMs} without any answer ends the run with an exception that says where it stood,
 * rather than a benchmark that hangs. A benchmark does not resend, so a leader change fails the run.
 */
public final class CommandLoad implements EgressListener
{
    /** Slots at the start of the array {@link #run} returns, before the latencies. */
    public static final int RESULT_HEADER = 7;
    /** What {@link #correlationIdOf} returns for an event that carries no correlationId. */
    public static final long NO_CORRELATION_ID = Long.MIN_VALUE;
    private static final int SBE_HEADER_LENGTH = 8;
    private static final int CORRELATION_ID_OFFSET = SBE_HEADER_LENGTH;
    private static final int ADDRESSED_CORRELATION_ID_OFFSET = SBE_HEADER_LENGTH + 4;
    private static final int RFQ_ENDED_REASON_OFFSET = SBE_HEADER_LENGTH + 20;
    private static final int TEMPLATE_ID_OFFSET = 2;
    private static final int COMMAND_REJECTED = 20;
    private static final int RFQ_INVITED = 24;
    private static final int FIRST_ADDRESSED = 25; // QuoteSubmitted
    private static final int RFQ_ENDED = 30; // the last addressed event
    private static final int END_REASON_EXPIRED = 5;
    private static final long MISSING = -1;

    private final Long2LongHashMap indexByCorrelationId = new Long2LongHashMap(MISSING);
    private final long[] sentAt;
    private final long[] latencies;
    private int answered;
    private long rejected;
    private long expired;
    private long otherEvents;
    private long events;
    private long lastAnswerAt;
    private String failure;

    private CommandLoad(final int commands)
    {
        sentAt = new long[commands];
        latencies = new long[commands];
    }

    /**
     * Send every command in {@code records} and wait for each one's first event.
     *
     * @param aeronDir         the media driver this client uses (the node's own, or one of its own).
     * @param ingressEndpoints the cluster's {@code 0=host:port,1=host:port,...}.
     * @param records          {@code [int32 little-endian length][frame]...}, one record per command.
     * @param window           most commands sent and not yet answered.
     * @param ratePerSecond    pacing of the sends; 0 sends as fast as the window allows.
     * @param credentials      what the cluster's authenticator expects, or null for none.
     * @param stallTimeoutMs   longest wait for the next answer (or to connect) before the run fails.
     * @param backoff          wait for answers by spinning, yielding, then parking up to 100 µs (true), or
     *                         by busy-spinning (false): on two cores a spinning client takes a core from the
     *                         cluster it measures.
     * @return {@code [elapsedNs, commands, rejected, expired, otherEvents, sendRetries, events,
     * latency_0 .. n-1]}: otherEvents carry a correlationId that no command of this run is waiting for
     * (0 in a valid run), events counts every egress message; latencies in ns, in the order of
     * {@code records}.
     * @throws IllegalStateException if the session closes, the leader changes, an offer is refused for
     * good, or no answer comes for {@code stallTimeoutMs}.
     */
    public static long[] run(
        final String aeronDir,
        final String ingressEndpoints,
        final byte[] records,
        final int window,
        final int ratePerSecond,
        final byte[] credentials,
        final long stallTimeoutMs,
        final boolean backoff)
    {
        final UnsafeBuffer frames = new UnsafeBuffer(records);
        final int commands = countRecords(frames);
        final int[] offsets = new int[commands];
        final int[] lengths = new int[commands];
        final CommandLoad load = new CommandLoad(commands);
        for (int i = 0, position = 0; i < commands; i++)
        {
            lengths[i] = frames.getInt(position, ByteOrder.LITTLE_ENDIAN);
            offsets[i] = position + 4;
            position = offsets[i] + lengths[i];
            final long correlationId = frames.getLong(offsets[i] + CORRELATION_ID_OFFSET, ByteOrder.LITTLE_ENDIAN);
            if (MISSING != load.indexByCorrelationId.put(correlationId, i))
            {
                throw new IllegalArgumentException("correlationId " + correlationId + " appears twice");
            }
        }

        final long stallTimeoutNs = stallTimeoutMs * 1_000_000L;
        final AeronCluster.Context ctx = new AeronCluster.Context()
            .aeronDirectoryName(aeronDir)
            .ingressChannel("aeron:udp?term-length=1m")
            .ingressEndpoints(ingressEndpoints)
            .egressChannel("aeron:udp?endpoint=localhost:0|term-length=1m")
            .messageTimeoutNs(stallTimeoutNs)
            .egressListener(load);
        if (null != credentials)
        {
            ctx.credentialsSupplier(new CredentialsSupplier()
            {
                public byte[] encodedCredentials()
                {
                    return credentials;
                }

                public byte[] onChallenge(final byte[] encodedChallenge)
                {
                    return credentials;
                }
            });
        }

        try (AeronCluster cluster = AeronCluster.connect(ctx))
        {
            final long intervalNs = ratePerSecond > 0 ? 1_000_000_000L / ratePerSecond : 0;
            final long start = System.nanoTime();
            long nextSend = start;
            long sendRetries = 0;
            int sent = 0;
            load.lastAnswerAt = start;
            final IdleStrategy idle = backoff ?
                new BackoffIdleStrategy(100, 10, 1_000, 100_000) : new BusySpinIdleStrategy();
            while (load.answered < commands)
            {
                final long now = System.nanoTime();
                if (sent < commands && sent - load.answered < window && now >= nextSend)
                {
                    final long result = cluster.offer(frames, offsets[sent], lengths[sent]);
                    if (result > 0)
                    {
                        if (sent == load.answered)
                        {
                            load.lastAnswerAt = now; // nothing was outstanding: the wait starts now
                        }
                        load.sentAt[sent++] = now;
                        nextSend += intervalNs;
                        continue;
                    }
                    if (Publication.CLOSED == result || Publication.MAX_POSITION_EXCEEDED == result)
                    {
                        load.fail("offer refused for good (" + Publication.errorString(result) + ")");
                    }
                    sendRetries++;
                }
                if (cluster.pollEgress() == 0)
                {
                    if (cluster.isClosed())
                    {
                        load.fail("the cluster session closed");
                    }
                    if (sent > load.answered && now - load.lastAnswerAt > stallTimeoutNs)
                    {
                        load.fail("no answer for " + stallTimeoutMs + " ms");
                    }
                    idle.idle();
                }
                else
                {
                    idle.reset();
                }
                if (null != load.failure)
                {
                    throw new IllegalStateException(
                        "CommandLoad: " + load.failure + " after " + sent + " sent, " + load.answered +
                        " answered of " + commands);
                }
            }
            final long elapsed = System.nanoTime() - start;

            final long[] result = new long[RESULT_HEADER + commands];
            result[0] = elapsed;
            result[1] = commands;
            result[2] = load.rejected;
            result[3] = load.expired;
            result[4] = load.otherEvents;
            result[5] = sendRetries;
            result[6] = load.events;
            System.arraycopy(load.latencies, 0, result, RESULT_HEADER, commands);
            return result;
        }
    }

    public void onMessage(
        final long clusterSessionId,
        final long timestamp,
        final DirectBuffer buffer,
        final int offset,
        final int length,
        final Header header)
    {
        final long now = System.nanoTime();
        events++;
        if (length < CORRELATION_ID_OFFSET + 8)
        {
            otherEvents++;
            return;
        }
        final int templateId = buffer.getShort(offset + TEMPLATE_ID_OFFSET, ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        final long correlationId = correlationIdOf(buffer, offset, length);
        if (NO_CORRELATION_ID == correlationId)
        {
            if (RFQ_ENDED == templateId && length > RFQ_ENDED_REASON_OFFSET &&
                END_REASON_EXPIRED == buffer.getByte(offset + RFQ_ENDED_REASON_OFFSET))
            {
                expired++; // one copy per recipient of an RFQ whose deadline passed
            }
            return; // a copy addressed to another user than the one who acted, or an invitation
        }
        final long index = indexByCorrelationId.remove(correlationId);
        if (MISSING == index)
        {
            otherEvents++; // a later event of a command already answered, or somebody else's command
            return;
        }
        latencies[(int)index] = now - sentAt[(int)index];
        if (COMMAND_REJECTED == templateId)
        {
            rejected++;
        }
        answered++;
        lastAnswerAt = now;
    }

    public void onSessionEvent(
        final long correlationId,
        final long clusterSessionId,
        final long leadershipTermId,
        final int leaderMemberId,
        final EventCode code,
        final String detail)
    {
        if (EventCode.OK != code)
        {
            fail("session event " + code + ": " + detail);
        }
    }

    public void onNewLeader(
        final long clusterSessionId,
        final long leadershipTermId,
        final int leaderMemberId,
        final String ingressEndpoints)
    {
        fail("the leader changed to member " + leaderMemberId + " (a benchmark does not resend)");
    }

    /**
     * The correlationId an egress frame carries, or {@link #NO_CORRELATION_ID} when it has none (an
     * invitation, a copy addressed to another user than the one who acted, a frame too short).
     *
     * @param frame one SBE frame, header included.
     * @return its correlationId, read where its template keeps it.
     */
    public static long correlationIdOf(final byte[] frame)
    {
        return correlationIdOf(new UnsafeBuffer(frame), 0, frame.length);
    }

    private static long correlationIdOf(final DirectBuffer buffer, final int offset, final int length)
    {
        if (length < CORRELATION_ID_OFFSET + 8)
        {
            return NO_CORRELATION_ID;
        }
        final int templateId = buffer.getShort(offset + TEMPLATE_ID_OFFSET, ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        if (RFQ_INVITED == templateId)
        {
            return NO_CORRELATION_ID;
        }
        if (FIRST_ADDRESSED <= templateId && templateId <= RFQ_ENDED)
        {
            return length < ADDRESSED_CORRELATION_ID_OFFSET + 8 ?
                NO_CORRELATION_ID :
                buffer.getLong(offset + ADDRESSED_CORRELATION_ID_OFFSET, ByteOrder.LITTLE_ENDIAN);
        }
        return buffer.getLong(offset + CORRELATION_ID_OFFSET, ByteOrder.LITTLE_ENDIAN);
    }

    private void fail(final String reason)
    {
        if (null == failure)
        {
            failure = reason;
        }
    }

    private static int countRecords(final UnsafeBuffer frames)
    {
        int count = 0;
        int position = 0;
        while (position < frames.capacity())
        {
            if (position + 4 > frames.capacity())
            {
                throw new IllegalArgumentException("truncated record length at " + position);
            }
            final int length = frames.getInt(position, ByteOrder.LITTLE_ENDIAN);
            if (length < CORRELATION_ID_OFFSET + 8 || position + 4 + length > frames.capacity())
            {
                throw new IllegalArgumentException("bad record of " + length + " bytes at " + position);
            }
            position += 4 + length;
            count++;
        }
        return count;
    }
}
