// The platform's refusals in words. Every error the gateway answers is RFC 9457 problem+json; when
// the cluster refused, `reason` names why. People get a sentence, never a status code or an enum.

const REASONS = {
  UNKNOWN_RFQ: "This RFQ is unknown to the platform.",
  RFQ_NOT_ACTIVE: "This RFQ is no longer active: it was cancelled or has ended.",
  RFQ_EXPIRED: "This RFQ's deadline has passed.",
  ALREADY_TRADED: "This RFQ has already traded.",
  NOT_INVITED: "You were not invited to this RFQ.",
  NOT_A_PARTY: "You are not a party to this RFQ.",
  NOT_REQUESTER: "Only the client who asked for quotes can do this.",
  INVALID_PRICE: "The price must be greater than zero.",
  INVALID_VALIDITY: "A quote's validity must end in the future, and no later than the RFQ's deadline.",
  DEALER_PASSED: "The dealer has passed on this RFQ: nothing more can be done with its quotes.",
  UNKNOWN_QUOTE: "That quote is unknown.",
  QUOTE_NOT_LIVE: "That quote is no longer live: it was replaced, withdrawn or has run past its validity.",
  COUNTER_NOT_LIVE: "That counter is no longer live: it was replaced, or the quote it answered is gone.",
  UNKNOWN_INSTRUMENT: "This instrument is unknown to the platform.",
  INSTRUMENT_DISABLED: "This instrument is disabled: no RFQ can be made on it now.",
  DUPLICATE_INSTRUMENT: "An instrument with this CUSIP exists already.",
  INVALID_CUSIP: "This is not a valid CUSIP: 9 characters whose last is the check digit.",
  INVALID_QUANTITY: "The quantity must be greater than zero.",
  QUANTITY_BELOW_MINIMUM: "The quantity is below this instrument's minimum.",
  EXPIRY_NOT_IN_FUTURE: "The deadline must be in the future.",
  NO_DEALERS: "Choose at least one dealer.",
  TOO_MANY_DEALERS: "Too many dealers: ask ten at most.",
  DUPLICATE_DEALER: "A dealer is named twice.",
  REQUESTER_AS_DEALER: "You cannot ask yourself for a quote.",
  NO_CHANGE: "Nothing to change: it is in that state already.",
};

const TYPES = {
  unauthorized: "Your token is unknown or was revoked: please sign in again.",
  "forbidden-role": null, // its detail says it in words ("only a trader may do this; ...")
  "not-found": "The platform does not know this (it may have ended before the gateway restarted).",
  "cluster-unavailable":
    "The cluster did not answer in time. Nothing was lost: try again and the platform will not do it twice.",
  "request-in-progress": "This request is still being answered: wait a moment.",
  "idempotency-key-reused": "This request clashed with an earlier one: please try again.",
  "internal-error": "The gateway failed to answer. Please try again; tell an operator if it persists.",
};

/** An error the page can show: `message` is a sentence for people. */
export class ApiError extends Error {
  constructor(message, { problem = null, status = 0, retryable = false } = {}) {
    super(message);
    this.problem = problem;
    this.status = status;
    this.retryable = retryable;
  }
}

/** A problem+json body in words. */
export function describe(problem) {
  if (problem.reason && REASONS[problem.reason]) return REASONS[problem.reason];
  const slug = String(problem.type ?? "")
    .split("/")
    .pop();
  if (slug === "validation-error") return `Please check the form: ${readable(problem)}.`;
  const known = TYPES[slug];
  if (known) return known;
  if (problem.reason) return `${problem.title}.`; // a reason this page does not know yet: its title
  return problem.detail ? `${problem.title}: ${problem.detail}.` : `${problem.title}.`;
}

/** FastAPI's validation messages without the request plumbing ("body.price: ..." → "price: ..."). */
function readable(problem) {
  if (Array.isArray(problem.errors) && problem.errors.length) {
    return problem.errors
      .map((e) => {
        const field = (e.loc ?? []).filter((p) => p !== "body").join(" ");
        // a regular expression means nothing to people: say what is wrong instead
        const msg = String(e.msg).startsWith("String should match pattern")
          ? "is not in the expected format"
          : e.msg;
        return field ? `${field}: ${msg}` : msg;
      })
      .join("; ");
  }
  return problem.detail ?? problem.title;
}

export const UNREACHABLE = "The gateway cannot be reached right now. Please try again in a moment.";
