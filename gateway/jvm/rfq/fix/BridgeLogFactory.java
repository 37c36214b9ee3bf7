package rfq.fix;

import quickfix.Log;
import quickfix.LogFactory;
import quickfix.SessionID;

import java.util.concurrent.BlockingQueue;

/**
 * QuickFIX/J's session log, sent to Python's logging through the bridge's queue: events as
 * {@code E session text}, errors as {@code W session text}. Messages themselves are not logged
 * (a Logon holds the password; the FileStore keeps what was sent, for resends).
 */
public final class BridgeLogFactory implements LogFactory
{
    private final BlockingQueue<String> queue;

    public BridgeLogFactory(final BlockingQueue<String> queue)
    {
        this.queue = queue;
    }

    public Log create(final SessionID sessionID)
    {
        final String prefix = FixBridge.SEP + sessionID.toString() + FixBridge.SEP;
        return new Log()
        {
            public void clear()
            {
            }

            public void onIncoming(final String message)
            {
            }

            public void onOutgoing(final String message)
            {
            }

            public void onEvent(final String text)
            {
                queue.add("E" + prefix + text);
            }

            public void onErrorEvent(final String text)
            {
                queue.add("W" + prefix + text);
            }
        };
    }
}
