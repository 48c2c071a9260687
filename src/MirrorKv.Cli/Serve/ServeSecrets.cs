namespace MirrorKv.Cli.Serve;

/// <summary>Where the node's secrets came from, for the start-up line (the secrets themselves are in NodeOptions).</summary>
internal sealed record ServeSecrets(string? ClientOrigin, string? PeerOrigin);
