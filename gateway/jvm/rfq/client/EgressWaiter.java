package rfq.client;

import io.aeron.cluster.client.AeronCluster;
import org.agrona.concurrent.IdleStrategy;

import java.util.concurrent.locks.LockSupport;

/**
 * Where a Python cluster client's thread waits for egress: in Java, so that the wait holds no GIL.
 *
 * <p>Why: a Python thread that polls every fraction of a millisecond takes the GIL back at every
 * wake-up, and every time it does, the process's other Python thread (the gateway's event loop) waits
 * for it; measured, the polling thread held the GIL more often than the event loop it served. Here
 * the thread idles like an Aeron agent (spin, yield, then park up to the longest park) and enters
 * Python only to deliver frames, through the client's {@link EgressBridge}.
 *
 * <p>Contract: {@link #awaitEgress(AeronCluster, long)} is called by one thread, the session's; {@link
 * #wake()} by any thread, e.g. when a command is queued for that thread to offer: it ends the current
 * wait, or the next one if none is under way.
 */
public final class EgressWaiter
{
    private final IdleStrategy idle;
    private volatile boolean woken;
    private volatile Thread waiter;

    /**
     * @param idle how to idle between two polls that found nothing (the platform's, rfq.jvm.idle_strategy);
     *             its park must end at {@link LockSupport#unpark(Thread)} for {@link #wake()} to be prompt.
     */
    public EgressWaiter(final IdleStrategy idle)
    {
        this.idle = idle;
    }

    /**
     * Poll {@code cluster}'s egress until it delivers something, {@link #wake()} is called, the
     * session closes, or {@code timeoutNs} passes.
     *
     * @return the fragments delivered (to the session's egress listener, on this thread).
     */
    public int awaitEgress(final AeronCluster cluster, final long timeoutNs)
    {
        waiter = Thread.currentThread();
        final long deadline = System.nanoTime() + timeoutNs;
        idle.reset();
        try
        {
            while (true)
            {
                final int fragments = cluster.pollEgress();
                if (fragments > 0 || isClosed(cluster))
                {
                    return fragments;
                }
                if (woken)
                {
                    woken = false;
                    return 0;
                }
                if (System.nanoTime() - deadline >= 0)
                {
                    return 0;
                }
                idle.idle();
            }
        }
        finally
        {
            waiter = null;
        }
    }

    /**
     * Whether the session is over: closed by the cluster or by Aeron, or its Aeron client closed (the
     * media driver stopped answering: {@link SurvivingErrorHandler}), which AeronCluster alone does
     * not report.
     */
    public static boolean isClosed(final AeronCluster cluster)
    {
        return cluster.isClosed() || cluster.context().aeron().isClosed();
    }

    /** End the current wait (or the next one) early. */
    public void wake()
    {
        woken = true;
        final Thread thread = waiter;
        if (thread != null)
        {
            LockSupport.unpark(thread);
        }
    }
}
