package rfq.bench;

import io.aeron.cluster.client.AeronCluster;
import io.aeron.cluster.client.EgressListener;
import io.aeron.logbuffer.Header;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;

/**
 * The load generator of bench-echo and bench-cluster: an Aeron Cluster client in Java that needs no
 * Python (and so no GIL) on its path, so that what it measures is the cluster and the service.
 *
 * <p>Each frame starts with its sequence number and its send time (System.nanoTime); the reply must
 * echo both, and any mismatch fails the run. Sends are paced at {@code ratePerSecond} (0 = as fast as
 * the window allows) with at most {@code window} frames in flight.
 */
public final class EchoLoad implements EgressListener
{
    private final long[] latencies;
    private int received;
    private int mismatches;

    private EchoLoad(final int messages)
    {
        latencies = new long[messages];
    }

    /**
     * Run one load and return {@code [elapsedNs, mismatches, latency_0 .. latency_n-1]} in ns; the client
     * busy-spins while it waits (bench-echo's behaviour).
     */
    public static long[] run(
        final String aeronDir,
        final String ingressEndpoints,
        final int messages,
        final int window,
        final int ratePerSecond,
        final int payloadLength,
        final byte[] credentials)
    {
        return run(aeronDir, ingressEndpoints, messages, window, ratePerSecond, payloadLength, credentials, false);
    }

    /**
     * As {@link #run(String, String, int, int, int, int, byte[])}, but with {@code backoff} the client waits
     * as CommandLoad does (spin, yield, then park up to 100 µs) instead of spinning: on a two-core machine a
     * spinning client takes a core from the cluster it measures, and bench-cluster compares the Java echo
     * with RFQ commands driven by CommandLoad, so both clients must wait alike.
     */
    public static long[] run(
        final String aeronDir,
        final String ingressEndpoints,
        final int messages,
        final int window,
        final int ratePerSecond,
        final int payloadLength,
        final byte[] credentials,
        final boolean backoff)
    {
        final EchoLoad load = new EchoLoad(messages);
        final AeronCluster.Context ctx = new AeronCluster.Context()
            .aeronDirectoryName(aeronDir)
            .ingressChannel("aeron:udp")
            .ingressEndpoints(ingressEndpoints)
            .egressChannel("aeron:udp?endpoint=localhost:0")
            .egressListener(load);
        if (null != credentials)
        {
            ctx.credentialsSupplier(new io.aeron.security.CredentialsSupplier()
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
            final UnsafeBuffer frame = new UnsafeBuffer(ByteBuffer.allocateDirect(Math.max(16, payloadLength)));
            final long intervalNs = ratePerSecond > 0 ? 1_000_000_000L / ratePerSecond : 0;
            final long start = System.nanoTime();
            long nextSend = start;
            int sent = 0;
            final IdleStrategy idle = backoff ?
                new BackoffIdleStrategy(100, 10, 1_000, 100_000) : new BusySpinIdleStrategy();
            while (load.received < messages)
            {
                final long now = System.nanoTime();
                if (sent < messages && sent - load.received < window && now >= nextSend)
                {
                    frame.putLong(0, sent);
                    frame.putLong(8, now);
                    if (cluster.offer(frame, 0, Math.max(16, payloadLength)) > 0)
                    {
                        sent++;
                        nextSend += intervalNs;
                        continue;
                    }
                }
                if (cluster.pollEgress() == 0)
                {
                    idle.idle();
                }
                else
                {
                    idle.reset();
                }
            }
            final long elapsed = System.nanoTime() - start;

            final long[] result = new long[messages + 2];
            result[0] = elapsed;
            result[1] = load.mismatches;
            System.arraycopy(load.latencies, 0, result, 2, messages);
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
        final long sequence = buffer.getLong(offset);
        final long sentAt = buffer.getLong(offset + 8);
        if (sequence != received)
        {
            mismatches++;
        }
        if (sequence >= 0 && sequence < latencies.length)
        {
            latencies[(int)sequence] = System.nanoTime() - sentAt;
        }
        received++;
    }
}
