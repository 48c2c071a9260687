namespace MirrorKv.Protocol;

/// <summary>Who opens a connection, declared in HELLO.</summary>
public enum PeerKind : byte
{
    /// <summary>An application client: may READ, send KV requests, never write memory or replicate.</summary>
    Client = 1,

    /// <summary>The other node's adapter: sends REPLICATE and heartbeats.</summary>
    Peer = 2,
}
