namespace MirrorKv.Client;

/// <summary>Why a client call failed.</summary>
public enum MirrorKvError
{
    /// <summary>No node can serve the call right now (for writes: the primary is down and no promotion happened yet).</summary>
    Unavailable,

    /// <summary>The key is longer than the pair accepts.</summary>
    KeyTooLong,

    /// <summary>The value is larger than the pair accepts.</summary>
    ValueTooLarge,

    /// <summary>The store has no room for the entry; nothing changed.</summary>
    OutOfMemory,

    /// <summary>The client's epoch and the node's disagree (a failover happened).</summary>
    StaleEpoch,

    /// <summary>The node answered with something this client does not understand.</summary>
    Protocol,

    /// <summary>The node requires a secret this client does not have, or refused the one it has.</summary>
    AuthenticationFailed,

    /// <summary>No valid entry could be read after the bounded number of attempts.</summary>
    ReadFailed,
}
