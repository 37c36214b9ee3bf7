package rfq.bench;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import org.agrona.concurrent.UnsafeBuffer;

import rfq.sbe.CreateRfqDecoder;
import rfq.sbe.CreateRfqEncoder;
import rfq.sbe.MessageHeaderDecoder;
import rfq.sbe.MessageHeaderEncoder;
import rfq.sbe.RfqCreatedDecoder;
import rfq.sbe.RfqCreatedEncoder;
import rfq.sbe.Side;

/**
 * The Java reference of {@code make bench-codec}: sbe-tool's generated flyweights for schema/rfq.xml,
 * sampled the way bench/codec.py samples our Python codecs (JMH-like sample mode: many samples, each
 * the mean of a short timed batch of round trips), in the same process, driven through JPype.
 *
 * <p>A round trip is what a service does with a frame: encode header and message into a buffer, read
 * the header back, check schema and template, decode every field (the char array into a reused
 * byte[], so the hot path allocates nothing, as in the published JMH numbers) and every entry of the
 * dealers group. Both messages carry {@link #DEALERS} dealers, as bench/codec.py's do. Compiled by the
 * Makefile next to sbe-tool's codecs into build/sbe-java/classes.
 */
public final class CodecBench
{
    public static final int CREATE_RFQ = 0;
    public static final int RFQ_CREATED = 1;
    /** The dealers an RFQ asks in this benchmark (user ids 21 to 25), the same in bench/codec.py. */
    public static final int DEALERS = 5;
    private static final int FIRST_DEALER = 21;

    private final UnsafeBuffer buffer = new UnsafeBuffer(ByteBuffer.allocateDirect(256));
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final CreateRfqEncoder createRfqEncoder = new CreateRfqEncoder();
    private final CreateRfqDecoder createRfqDecoder = new CreateRfqDecoder();
    private final RfqCreatedEncoder rfqCreatedEncoder = new RfqCreatedEncoder();
    private final RfqCreatedDecoder rfqCreatedDecoder = new RfqCreatedDecoder();
    private final byte[] clOrdIdIn = new byte[20];
    private final byte[] clOrdIdOut = new byte[20];
    private long sink;

    public CodecBench()
    {
        final byte[] text = "ORD-1".getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(text, 0, clOrdIdIn, 0, text.length);
    }

    /** Encode then decode one CreateRfq with its dealers; returns a checksum of the decoded fields. */
    public long roundTripCreateRfq(final long i)
    {
        createRfqEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
            .correlationId(i)
            .userId(7)
            .instrumentId(3)
            .side(Side.BUY)
            .quantity(1_000_000L)
            .expireTimeMs(1_700_000_000_000L)
            .putClOrdId(clOrdIdIn, 0);
        final CreateRfqEncoder.DealersEncoder dealers = createRfqEncoder.dealersCount(DEALERS);
        for (int k = 0; k < DEALERS; k++)
        {
            dealers.next().dealerUserId(FIRST_DEALER + k);
        }
        headerDecoder.wrap(buffer, 0);
        if (headerDecoder.schemaId() != CreateRfqDecoder.SCHEMA_ID ||
            headerDecoder.templateId() != CreateRfqDecoder.TEMPLATE_ID)
        {
            throw new IllegalStateException("unexpected header");
        }
        final CreateRfqDecoder d = createRfqDecoder.wrap(
            buffer, MessageHeaderDecoder.ENCODED_LENGTH, headerDecoder.blockLength(), headerDecoder.version());
        long sum = d.correlationId() + d.userId() + d.instrumentId() + d.side().value() + d.quantity() +
            d.expireTimeMs();
        d.getClOrdId(clOrdIdOut, 0);
        sum += clOrdIdOut[0];
        final CreateRfqDecoder.DealersDecoder group = d.dealers();
        while (group.hasNext())
        {
            sum += group.next().dealerUserId();
        }
        return sum;
    }

    /** Encode then decode one RfqCreated with its dealers; returns a checksum of the decoded fields. */
    public long roundTripRfqCreated(final long i)
    {
        rfqCreatedEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
            .correlationId(i)
            .rfqId(42L)
            .requesterUserId(7)
            .instrumentId(3)
            .side(Side.SELL)
            .quantity(1_000_000L)
            .expireTimeMs(1_700_000_000_000L)
            .timestampMs(1_699_999_999_000L)
            .putClOrdId(clOrdIdIn, 0);
        final RfqCreatedEncoder.DealersEncoder dealers = rfqCreatedEncoder.dealersCount(DEALERS);
        for (int k = 0; k < DEALERS; k++)
        {
            dealers.next().dealerUserId(FIRST_DEALER + k);
        }
        headerDecoder.wrap(buffer, 0);
        if (headerDecoder.schemaId() != RfqCreatedDecoder.SCHEMA_ID ||
            headerDecoder.templateId() != RfqCreatedDecoder.TEMPLATE_ID)
        {
            throw new IllegalStateException("unexpected header");
        }
        final RfqCreatedDecoder d = rfqCreatedDecoder.wrap(
            buffer, MessageHeaderDecoder.ENCODED_LENGTH, headerDecoder.blockLength(), headerDecoder.version());
        long sum = d.correlationId() + d.rfqId() + d.requesterUserId() + d.instrumentId() + d.side().value() +
            d.quantity() + d.expireTimeMs() + d.timestampMs();
        d.getClOrdId(clOrdIdOut, 0);
        sum += clOrdIdOut[0];
        final RfqCreatedDecoder.DealersDecoder group = d.dealers();
        while (group.hasNext())
        {
            sum += group.next().dealerUserId();
        }
        return sum;
    }

    /**
     * The frame round trip {@code i} encodes (header included), for bench/codec.py to check that Java
     * and Python time the same message.
     */
    public byte[] frame(final int message, final long i)
    {
        run(message, i, 1);
        final int length = MessageHeaderDecoder.ENCODED_LENGTH + (message == CREATE_RFQ ?
            createRfqEncoder.encodedLength() : rfqCreatedEncoder.encodedLength());
        final byte[] out = new byte[length];
        buffer.getBytes(0, out);
        return out;
    }

    private long run(final int message, final long from, final int ops)
    {
        long s = 0;
        if (message == CREATE_RFQ)
        {
            for (int k = 0; k < ops; k++)
            {
                s += roundTripCreateRfq(from + k);
            }
        }
        else
        {
            for (int k = 0; k < ops; k++)
            {
                s += roundTripRfqCreated(from + k);
            }
        }
        return s;
    }

    /**
     * Sample mode: {@code warmupOps} untimed round trips, then {@code samples} timed batches of
     * {@code opsPerSample} round trips; returns each batch's elapsed nanoseconds.
     */
    public long[] sample(final int message, final int samples, final int opsPerSample, final int warmupOps)
    {
        sink += run(message, 0, warmupOps);
        final long[] elapsed = new long[samples];
        long i = 0;
        for (int s = 0; s < samples; s++)
        {
            final long start = System.nanoTime();
            sink += run(message, i, opsPerSample);
            elapsed[s] = System.nanoTime() - start;
            i += opsPerSample;
        }
        return elapsed;
    }

    /** Bytes this thread allocates per round trip over {@code ops} round trips (after warm-up). */
    public double allocatedBytesPerOp(final int message, final int ops)
    {
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        final long thread = Thread.currentThread().getId();
        sink += run(message, 0, ops);
        final long before = threads.getThreadAllocatedBytes(thread);
        sink += run(message, 0, ops);
        final long after = threads.getThreadAllocatedBytes(thread);
        return (after - before) / (double)ops;
    }

    /** Keeps the checksums alive so the JIT cannot drop the work. */
    public long sink()
    {
        return sink;
    }
}
