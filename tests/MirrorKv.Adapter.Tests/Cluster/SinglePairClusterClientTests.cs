using MirrorKv.Adapter.Tests.Safety;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter.Tests.Cluster;

/// <summary>A node outside a cluster answers CLUSTER_MAP with NoCluster, and the cluster client then serves that one pair.</summary>
public class SinglePairClusterClientTests
{
    [Fact]
    public async Task ClusterClient_GivenASinglePairsNode_WorksAsThatPairsClient()
    {
        await using TcpPair node = await TcpPair.StartPrimaryAsync();
        Assert.Null(await MirrorKvAdmin.GetClusterMapAsync(node.EndPoint));

        await using MirrorKvClusterClient client = await MirrorKvClusterClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [node.EndPoint] });
        Assert.False(client.IsCluster);
        Assert.Null(client.Map);
        string[] keys = [.. Enumerable.Range(0, 20).Select(i => $"k{i}")];
        await client.SetManyAsync(keys, [.. keys.Select(k => (ReadOnlyMemory<byte>)System.Text.Encoding.UTF8.GetBytes(k))]);
        Assert.Equal(keys, (await client.GetManyAsync(keys)).Select(v => System.Text.Encoding.UTF8.GetString(v!)));
        await client.SetAsync("one", "1"u8.ToArray());
        Assert.Equal("1"u8.ToArray(), await client.GetAsync("one"));
        Assert.True(await client.DeleteAsync("one"));
        Assert.Equal(20, node.Primary.Store.GetStats().Entries);
    }

    [Fact]
    public async Task ClusterMapRequest_OutsideACluster_IsAnsweredNoCluster_AndTheConnectionStaysOpen()
    {
        await using TcpPair node = await TcpPair.StartPrimaryAsync();
        await using RawSocket raw = await RawSocket.ConnectAsync(node.EndPoint);
        Assert.Equal(WireStatus.Ok, (await Conformance.Answer.AskAsync(raw, RawSocket.HelloFrame())).Status);
        Conformance.Answer answer = await Conformance.Answer.AskAsync(raw, RawSocket.Frame(Opcode.ClusterMap, 5, new byte[8]));
        Assert.Equal((WireStatus.NoCluster, false), (answer.Status, answer.Closed));
        Assert.Contains("single pair", answer.Text, StringComparison.Ordinal);
        await Conformance.Answer.AssertOpenAsync(raw);
    }
}
