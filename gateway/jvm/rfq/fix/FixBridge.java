package rfq.fix;

import quickfix.Application;
import quickfix.ConfigError;
import quickfix.DataDictionary;
import quickfix.DefaultMessageFactory;
import quickfix.FieldNotFound;
import quickfix.FileStoreFactory;
import quickfix.InvalidMessage;
import quickfix.Message;
import quickfix.MessageFactory;
import quickfix.MessageStoreFactory;
import quickfix.RejectLogon;
import quickfix.Session;
import quickfix.SessionID;
import quickfix.SessionNotFound;
import quickfix.SessionSettings;
import quickfix.ThreadedSocketAcceptor;
import quickfix.UnsupportedMessageType;
import quickfix.field.MsgType;
import quickfix.mina.acceptor.DynamicAcceptorSessionProvider;

import java.io.ByteArrayInputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The FIX gateway's QuickFIX/J {@link Application}: hands everything to Python through a queue and
 * never calls into Python.
 *
 * <p>Why: a call from a JVM-created thread (QuickFIX/J's session threads) into Python costs 9-30 µs
 * and leaks memory; a Python thread calling Java costs ~1 µs. So QuickFIX/J's threads only enqueue
 * strings, and one Python thread drains them with {@link #drain}; Python answers through plain method
 * calls ({@link #answerLogon}, {@link #send}).
 *
 * <p>Queue items are {@code kind SEP field SEP field...} with {@code SEP = '\u0002'}:
 * <ul>
 *   <li>{@code L session token senderCompID password}: a logon to check. The session thread waits
 *       (at most the logon timeout) for {@link #answerLogon}; a refusal or no answer rejects it.</li>
 *   <li>{@code O session userId}: logged on. {@code X session}: logged out.</li>
 *   <li>{@code M session seqNum rawMessage}: an application message that passed the engine's
 *       validation, of a type the gateway handles (others get a BusinessMessageReject, 380=3).</li>
 *   <li>{@code E session text} / {@code W session text}: the engine's event / error log.</li>
 * </ul>
 */
public final class FixBridge implements Application
{
    public static final char SEP = '\u0002';
    private static final Set<String> HANDLED = Set.of("R", "S", "Z", "AJ", "AG");
    private static final String[] NOTHING = new String[0];

    static
    {
        // QuickFIX/J's own SLF4J logging (not the session logs, which come through the queue):
        // warnings and errors only, unless the process asks otherwise
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null)
        {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        }
    }

    private final BlockingQueue<String> queue = new LinkedBlockingQueue<>();
    private final Map<String, SessionID> sessions = new ConcurrentHashMap<>();
    private final Map<SessionID, Integer> users = new ConcurrentHashMap<>();
    private final Map<Long, CompletableFuture<String>> logons = new ConcurrentHashMap<>();
    private final AtomicLong tokens = new AtomicLong();
    private final long logonTimeoutMs;
    private final DataDictionary dictionary;
    private ThreadedSocketAcceptor acceptor;

    public FixBridge(final long logonTimeoutMs) throws ConfigError
    {
        withClassLoader();
        this.logonTimeoutMs = logonTimeoutMs;
        this.dictionary = new DataDictionary("FIX44.xml");
    }

    // --- called from Python -----------------------------------------------------------------------

    /**
     * A Python thread attached to the JVM has no context class loader, and QuickFIX/J loads its
     * dictionary and message classes through it (threads it starts inherit the caller's).
     */
    private static void withClassLoader()
    {
        final Thread thread = Thread.currentThread();
        if (thread.getContextClassLoader() == null)
        {
            thread.setContextClassLoader(FixBridge.class.getClassLoader());
        }
    }

    /**
     * Start an acceptor from QuickFIX/J settings text whose sessions are all templates: any
     * counterparty CompID may connect, and {@link #fromAdmin} decides at logon.
     */
    public void start(final String settingsText, final String host, final int port) throws ConfigError
    {
        withClassLoader();
        final SessionSettings settings = new SessionSettings(
            new ByteArrayInputStream(settingsText.getBytes(StandardCharsets.UTF_8)));
        final MessageStoreFactory store = new FileStoreFactory(settings);
        final BridgeLogFactory log = new BridgeLogFactory(queue);
        final MessageFactory messages = new DefaultMessageFactory();
        acceptor = new ThreadedSocketAcceptor(this, store, settings, log, messages);
        final List<DynamicAcceptorSessionProvider.TemplateMapping> templates = new ArrayList<>();
        final var sections = settings.sectionIterator();
        while (sections.hasNext())
        {
            final SessionID template = sections.next();
            templates.add(new DynamicAcceptorSessionProvider.TemplateMapping(
                new SessionID(template.getBeginString(), template.getSenderCompID(), "*"), template));
        }
        acceptor.setSessionProvider(
            new InetSocketAddress(host, port),
            new DynamicAcceptorSessionProvider(settings, templates, this, store, log, messages));
        acceptor.start();
    }

    /** Log every session out (waiting for the Logout answers at most the engine's logout timeout). */
    public void stop(final boolean force)
    {
        if (acceptor != null)
        {
            acceptor.stop(force);
            acceptor = null;
        }
        for (final CompletableFuture<String> logon : logons.values())
        {
            logon.complete("!the gateway is stopping");
        }
    }

    /** Up to {@code max} items, waiting at most {@code timeoutMs} for the first. */
    public String[] drain(final int max, final long timeoutMs) throws InterruptedException
    {
        final String first = queue.poll(timeoutMs, TimeUnit.MILLISECONDS);
        if (first == null)
        {
            return NOTHING;
        }
        final List<String> items = new ArrayList<>(Math.min(max, 64));
        items.add(first);
        queue.drainTo(items, max - 1);
        return items.toArray(NOTHING);
    }

    /** Answer a logon request: {@code refusal} empty accepts it as {@code userId}. */
    public void answerLogon(final long token, final int userId, final String refusal)
    {
        final CompletableFuture<String> logon = logons.get(token);
        if (logon != null)
        {
            logon.complete(refusal.isEmpty() ? Integer.toString(userId) : "!" + refusal);
        }
    }

    /**
     * Send a message built by Python: {@code body} is tag=value fields separated by SOH, from
     * MsgType(35) on (header fields such as PossResend(97) right after it); the session fills in
     * BeginString, CompIDs, MsgSeqNum, SendingTime, BodyLength and CheckSum. False when the session
     * is unknown; the engine stores the message (for resends) whether or not it is logged on.
     */
    public boolean send(final String session, final String body) throws InvalidMessage
    {
        final SessionID id = sessions.get(session);
        if (id == null)
        {
            return false;
        }
        final Message message = new Message();
        message.fromString(body, dictionary, false);
        try
        {
            return Session.sendToTarget(message, id);
        }
        catch (final SessionNotFound e)
        {
            return false;
        }
    }

    /**
     * Send many messages with one call from Python (each call from Python gives up and retakes the
     * GIL, which costs more than the send when other Python threads are busy): {@code packed} is
     * records separated by {@code '\u0003'}, each {@code session SEP body} as {@link #send} takes.
     * Returns how many could not be sent (unknown session, or a body that does not parse).
     */
    public int sendAll(final String packed)
    {
        int failed = 0;
        int start = 0;
        while (start < packed.length())
        {
            int end = packed.indexOf('\u0003', start);
            if (end < 0)
            {
                end = packed.length();
            }
            final int split = packed.indexOf(SEP, start);
            try
            {
                if (split < 0 || split > end || !send(packed.substring(start, split), packed.substring(split + 1, end)))
                {
                    failed++;
                }
            }
            catch (final InvalidMessage e)
            {
                failed++;
            }
            start = end + 1;
        }
        return failed;
    }

    /** Whether a session is logged on now. */
    public boolean isLoggedOn(final String session)
    {
        final SessionID id = sessions.get(session);
        final Session live = id == null ? null : Session.lookupSession(id);
        return live != null && live.isLoggedOn();
    }

    /** The next sequence numbers (sender, target) the engine expects for a session; empty if unknown. */
    public long[] sequenceNumbers(final String session) throws java.io.IOException
    {
        final SessionID id = sessions.get(session);
        final Session live = id == null ? null : Session.lookupSession(id);
        if (live == null)
        {
            return new long[0];
        }
        return new long[] {live.getStore().getNextSenderMsgSeqNum(), live.getStore().getNextTargetMsgSeqNum()};
    }

    public int queued()
    {
        return queue.size();
    }

    // --- QuickFIX/J's threads ---------------------------------------------------------------------

    public void onCreate(final SessionID sessionID)
    {
        sessions.put(sessionID.toString(), sessionID);
    }

    public void onLogon(final SessionID sessionID)
    {
        final Integer user = users.get(sessionID);
        queue.add("O" + SEP + sessionID + SEP + (user == null ? 0 : user));
    }

    public void onLogout(final SessionID sessionID)
    {
        users.remove(sessionID);
        queue.add("X" + SEP + sessionID);
    }

    public void toAdmin(final Message message, final SessionID sessionID)
    {
    }

    public void fromAdmin(final Message message, final SessionID sessionID)
        throws FieldNotFound, RejectLogon
    {
        if (!MsgType.LOGON.equals(message.getHeader().getString(MsgType.FIELD)))
        {
            return;
        }
        final String password = message.isSetField(554) ? message.getString(554) : "";
        final long token = tokens.incrementAndGet();
        final CompletableFuture<String> answer = new CompletableFuture<>();
        logons.put(token, answer);
        String verdict;
        try
        {
            queue.add("L" + SEP + sessionID + SEP + token + SEP + sessionID.getTargetCompID() + SEP + password);
            verdict = answer.get(logonTimeoutMs, TimeUnit.MILLISECONDS);
        }
        catch (final TimeoutException e)
        {
            verdict = "!the gateway did not answer in time";
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
            verdict = "!interrupted";
        }
        catch (final ExecutionException e)
        {
            verdict = "!" + e.getCause();
        }
        finally
        {
            logons.remove(token);
        }
        if (verdict.startsWith("!"))
        {
            throw new RejectLogon(verdict.substring(1));
        }
        users.put(sessionID, Integer.parseInt(verdict));
    }

    public void toApp(final Message message, final SessionID sessionID)
    {
    }

    public void fromApp(final Message message, final SessionID sessionID)
        throws FieldNotFound, UnsupportedMessageType
    {
        final String type = message.getHeader().getString(MsgType.FIELD);
        if (!HANDLED.contains(type))
        {
            throw new UnsupportedMessageType();
        }
        queue.add("M" + SEP + sessionID + SEP + message.getHeader().getString(34) + SEP + message);
    }
}
