using System.Net;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// A cluster set up as on machines of its own (docs/deploy.md, "A cluster"): every node started with
/// <c>serve --cluster --pair --coordinator</c> waits for the map; <c>mirrorkv cluster create</c> writes the first one;
/// then the nodes serve their slots and a cluster client reads and writes through them.
/// </summary>
[Collection(nameof(ProcessTests))]
public class ClusterCreateProcessTests
{
    [Fact]
    public async Task NodesStartedFirst_ServeTheMap_ClusterCreateWrites_AndASecondCreateIsRefused()
    {
        await using EtcdProcess etcd = await EtcdProcess.StartAsync();
        string[] Args(string pair) => ["--coordinator", etcd.Url.ToString(), "--cluster", "prod", "--pair", pair];
        IPEndPoint[] at = [Ports.FreeEndPoint(), Ports.FreeEndPoint(), Ports.FreeEndPoint(), Ports.FreeEndPoint()];

        // The primaries wait for a map before they listen: started first, as an operator's units are.
        Task<NodeProcess> a = NodeProcess.StartAsync(["--role", "primary", .. Args("a")], at[0]);
        Task<NodeProcess> b = NodeProcess.StartAsync(["--role", "primary", .. Args("b")], at[2]);
        await Task.Delay(TimeSpan.FromSeconds(2), TestContext.Current.CancellationToken);
        Assert.False(a.IsCompleted || b.IsCompleted, "a node of a cluster without a map got ready");

        (int code, string stdout, string stderr) = await CliProcess.RunAsync("cluster", "create", "--etcd", etcd.Url.ToString(), "--name", "prod",
            "--pair", $"a={at[0]},{at[1]}", "--pair", $"b={at[2]},{at[3]}");
        Assert.True(code == 0, $"exit {code}: {stderr}\n{stdout}");
        Assert.Contains($"map version 1 of cluster prod written: a ({at[0]}, {at[1]}) slots 0-8191; b ({at[2]}, {at[3]}) slots 8192-16383", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("moved nothing", stdout, StringComparison.Ordinal);

        await using NodeProcess primaryA = await a;
        await using NodeProcess primaryB = await b;
        await using NodeProcess secondaryA = await NodeProcess.StartAsync(["--role", "secondary", "--primary", at[0].ToString(), .. Args("a")], at[1]);
        await using NodeProcess secondaryB = await NodeProcess.StartAsync(["--role", "secondary", "--primary", at[2].ToString(), .. Args("b")], at[3]);
        await primaryA.WaitProtectedAsync();
        await primaryB.WaitProtectedAsync();

        await using (MirrorKvClusterClient client = await MirrorKvClusterClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [at[1]] }, TestContext.Current.CancellationToken))
        {
            for (int i = 0; i < 200; i++)
            {
                await client.SetAsync($"key-{i}", BitConverter.GetBytes(i), TestContext.Current.CancellationToken);
            }

            for (int i = 0; i < 200; i++)
            {
                Assert.Equal(BitConverter.GetBytes(i), await client.GetAsync($"key-{i}", TestContext.Current.CancellationToken));
            }
        }

        ulong entriesA = (await MirrorKvAdmin.GetStatusAsync(at[0])).Entries, entriesB = (await MirrorKvAdmin.GetStatusAsync(at[2])).Entries;
        Assert.True(entriesA > 0 && entriesB > 0 && entriesA + entriesB == 200, $"the keys did not spread over both pairs: {entriesA} and {entriesB}");

        // A second create would give every slot away again: refused, naming what is there and what to do.
        (code, _, stderr) = await CliProcess.RunAsync("cluster", "create", "--etcd", etcd.Url.ToString(), "--name", "prod", "--pair", $"c={Ports.FreeEndPoint()}");
        Assert.Equal(3, code);
        Assert.Contains("etcd holds a map of cluster 'prod' already (version 1, pairs a, b): add pairs to it with mirrorkv cluster add-pair", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a", "--pair 'a' must be ID=HOST:PORT[,HOST:PORT]")]
    [InlineData("a b=127.0.0.1:1", "--pair 'a b=127.0.0.1:1' must be ID=HOST:PORT[,HOST:PORT]")]
    [InlineData("a=nowhere", "--pair a: 'nowhere' is not HOST:PORT or HOST:PORT@HOST:PORT")]
    [InlineData("a=127.0.0.1:1,127.0.0.1:1", "--pair a: 127.0.0.1:1 is named twice")]
    public async Task BadPairs_AreRefused_BeforeEtcdIsAsked(string pair, string error)
    {
        // No etcd listens at this URL: each error must come from the arguments alone.
        (int code, _, string stderr) = await CliProcess.RunAsync("cluster", "create", "--etcd", $"http://127.0.0.1:{Ports.Free()}", "--pair", pair);
        Assert.Equal(2, code);
        Assert.Contains($"error: {error}", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheSamePairTwice_OrAMemberInTwoPairs_IsRefused()
    {
        (int code, _, string stderr) = await CliProcess.RunAsync("cluster", "create", "--etcd", $"http://127.0.0.1:{Ports.Free()}", "--pair", "a=127.0.0.1:1", "--pair", "a=127.0.0.1:2");
        Assert.Equal(2, code);
        Assert.Contains("error: --pair a is given twice", stderr, StringComparison.Ordinal);

        (code, _, stderr) = await CliProcess.RunAsync("cluster", "create", "--etcd", $"http://127.0.0.1:{Ports.Free()}", "--pair", "a=127.0.0.1:1", "--pair", "b=127.0.0.1:1");
        Assert.Equal(2, code);
        Assert.Contains("error: --pair b: 127.0.0.1:1 is a member of another pair already", stderr, StringComparison.Ordinal);
    }
}
