package rfq.host;

import io.aeron.security.Authenticator;
import io.aeron.security.AuthenticatorSupplier;
import io.aeron.security.SessionProxy;
import org.agrona.collections.Long2LongHashMap;

import java.security.MessageDigest;

/**
 * Admits a cluster session only if its credentials equal the cluster's shared secret.
 *
 * <p>Gateways are the only legitimate clients of the cluster; they hold the secret (from the
 * operator's configuration, never from the wire), and a process without it cannot open a session and
 * so cannot inject commands. The comparison is constant-time. Runs on the consensus module's thread:
 * no Python is involved.
 */
public final class SharedSecretAuthenticator implements Authenticator
{
    private static final long ACCEPTED = 1;
    private static final long REJECTED = 2;

    private final byte[] secret;
    private final Long2LongHashMap decisions = new Long2LongHashMap(0);

    public SharedSecretAuthenticator(final byte[] secret)
    {
        if (null == secret || 0 == secret.length)
        {
            throw new IllegalArgumentException("the cluster secret must not be empty");
        }
        this.secret = secret.clone();
    }

    /** A supplier for {@code ConsensusModule.Context.authenticatorSupplier}. */
    public static AuthenticatorSupplier supplier(final byte[] secret)
    {
        final byte[] copy = secret.clone();
        return () -> new SharedSecretAuthenticator(copy);
    }

    public void onConnectRequest(final long sessionId, final byte[] encodedCredentials, final long nowMs)
    {
        final boolean ok = null != encodedCredentials && MessageDigest.isEqual(secret, encodedCredentials);
        decisions.put(sessionId, ok ? ACCEPTED : REJECTED);
    }

    public void onChallengeResponse(final long sessionId, final byte[] encodedCredentials, final long nowMs)
    {
        onConnectRequest(sessionId, encodedCredentials, nowMs);
    }

    public void onConnectedSession(final SessionProxy sessionProxy, final long nowMs)
    {
        decide(sessionProxy);
    }

    public void onChallengedSession(final SessionProxy sessionProxy, final long nowMs)
    {
        decide(sessionProxy);
    }

    private void decide(final SessionProxy sessionProxy)
    {
        final long decision = decisions.remove(sessionProxy.sessionId());
        if (ACCEPTED == decision)
        {
            sessionProxy.authenticate(null);
        }
        else
        {
            sessionProxy.reject();
        }
    }
}
