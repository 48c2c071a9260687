using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// Slots holding large values (up to 16 MiB by default, past a client's 4 MiB frames) move like any others: the
/// mover's pages hold the node's largest entry, and a page larger than the target's frames is imported in parts.
/// </summary>
[Collection(nameof(ProcessTests))]
public class ClusterLargeValueMoveTests
{
    [Fact]
    public async Task Move_OfSlotsHoldingValuesLargerThanAClientFrame_CopiesEveryValueWhole()
    {
        await using ProcessCluster cluster = await ProcessCluster.StartAsync(pairs: 2);
        await using MirrorKvClusterClient writer = await MirrorKvClusterClient.ConnectAsync(cluster.ClientOptions());
        string[] keys = [.. Enumerable.Range(0, 100_000).Select(i => $"big-{i}").Where(k => HashSlot.Of(k) < 300).Take(24)];
        var values = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var random = new Random(19);
        for (int i = 0; i < keys.Length; i++)
        {
            // Four of 3 MiB and one of 12 MiB among small ones: no page of small entries alone, and pages past 17 MiB.
            int size = i switch { < 4 => 3 << 20, 4 => 12 << 20, _ => 100 + i };
            var value = new byte[size];
            random.NextBytes(value);
            values[keys[i]] = value;
            await writer.SetAsync(keys[i], value);
        }

        await using (CliProcess mover = cluster.Cluster("move", "--slots", "0-299", "--to", "p2"))
        {
            int code = await mover.WaitForExitAsync(TimeSpan.FromMinutes(4));
            Assert.True(code == 0, $"exit {code}: {mover.Stderr}\n{mover.Stdout}");
            Assert.Contains($"moved 300 slots ({keys.Length} entries)", mover.Stdout, StringComparison.Ordinal);
        }

        await using MirrorKvClusterClient reader = await MirrorKvClusterClient.ConnectAsync(cluster.ClientOptions(cluster.Pairs[1].Secondary));
        Assert.Equal("p2", reader.Map!.Owner(0).Id);
        foreach ((string key, byte[] value) in values)
        {
            byte[]? found = await reader.GetAsync(key);
            Assert.True(found is not null && found.AsSpan().SequenceEqual(value), $"{key}: {found?.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "nothing"} bytes read, {value.Length} written");
        }

        Assert.Equal((ulong)keys.Length, (await MirrorKvAdmin.GetStatusAsync(cluster.Pairs[1].Primary.EndPoint)).Entries);
        Assert.Equal(0UL, (await MirrorKvAdmin.GetStatusAsync(cluster.Pairs[0].Primary.EndPoint)).Entries);
    }
}
