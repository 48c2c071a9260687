using System.Net;
using MirrorKv.Client;

namespace MirrorKv.Adapter.Tests;

/// <summary>Raw connections into a <see cref="MemberPair"/> (they need the client's internals, which the shared fixture does not see).</summary>
internal static class MemberPairRaw
{
    /// <summary>A raw connection to <paramref name="node"/> whose requests wait up to 20 s (so that they outlast a freeze).</summary>
    public static async Task<RawClient> ConnectRawAsync(this MemberPair pair, IPEndPoint node) =>
        new(await NodeChannel.ConnectAsync(pair.Network.CreateTransport(PairFixture.ClientAddress), node, new NodeChannelOptions(null, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(20)), _ => { }, CancellationToken.None));
}
