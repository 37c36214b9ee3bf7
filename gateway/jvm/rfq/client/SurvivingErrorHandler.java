package rfq.client;

import io.aeron.exceptions.DriverTimeoutException;
import org.agrona.ErrorHandler;
import org.agrona.concurrent.AgentTerminationException;

/**
 * The Aeron client's error handler in a gateway: it reports, and never ends the process.
 *
 * <p>Aeron's default handler exits the JVM when the media driver stops answering
 * ({@link DriverTimeoutException}). A gateway that shares a node's driver ({@code rfq gateway web
 * --aeron-dir}) would then die with that node. With this handler the Aeron client closes instead, and
 * the gateway's core, finding its session closed, connects again until a driver answers.
 */
public final class SurvivingErrorHandler implements ErrorHandler
{
    public void onError(final Throwable throwable)
    {
        synchronized (System.err)
        {
            if (throwable instanceof DriverTimeoutException)
            {
                System.err.println("rfq: the media driver stopped answering (" + throwable.getMessage() +
                    "); the session is closed and will be opened again once a driver answers");
            }
            else if (throwable instanceof AgentTerminationException)
            {
                System.err.println("rfq: the Aeron client stopped (" + throwable.getMessage() + ")");
            }
            else
            {
                System.err.println("rfq: Aeron client error:");
                throwable.printStackTrace(System.err);
            }
        }
    }
}
