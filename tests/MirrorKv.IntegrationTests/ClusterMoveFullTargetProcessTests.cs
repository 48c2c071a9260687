using MirrorKv.Adapter;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// <c>mirrorkv cluster move</c> to a pair whose store fills in the middle of a batch (real processes, a real etcd):
/// the mover stops with exit code 3 and one paragraph naming the pair, the slots and the settings to change, never a
/// stack trace; the batch stays in phase copy (the source serves its reads, a rerun resumes it), nothing is lost, and
/// slots outside the batch take writes.
/// </summary>
[Collection(nameof(ProcessTests))]
public class ClusterMoveFullTargetProcessTests
{
    // Entries of 256 KiB: 80 of them (20 MiB) cannot fit a 16 MiB store, and fill it in a few pages.
    private const int LargeValue = 256 << 10;

    [Fact]
    public async Task Move_ToAPairThatFills_Exits3WithTheSettingsToChange_NoStackTrace_NothingLost_OtherSlotsWritable()
    {
        await using ProcessCluster cluster = await ProcessCluster.StartAsync(pairs: 2, nodeArgs: id => id == "p2" ? ["--max-memory", "16m", "--eviction", "noeviction"] : []);
        var written = new Dictionary<string, byte[]>();
        var random = new Random(16);
        await using (MirrorKvClusterClient writer = await MirrorKvClusterClient.ConnectAsync(cluster.ClientOptions()))
        {
            // The first batch (slots 0-499) fits p2; the second (500-999) does not.
            foreach ((string key, int size) in KeysOf(0, 499, "small").Take(20).Select(k => (k, 100))
                .Concat(KeysOf(500, 999, "large").Take(80).Select(k => (k, LargeValue))))
            {
                var value = new byte[size];
                random.NextBytes(value);
                await writer.SetAsync(key, value);
                written[key] = value;
            }
        }

        await using (CliProcess mover = cluster.Cluster("move", "--slots", "0-999", "--to", "p2", "--batch-slots", "500"))
        {
            int code = await mover.WaitForExitAsync(TimeSpan.FromSeconds(60));
            Assert.True(code == 3, $"exit {code}: {mover.Stderr}\n{mover.Stdout}");
            AssertFullTargetMessage(mover.Stdout, mover.Stderr);
            TestContext.Current.TestOutputHelper?.WriteLine(mover.Stdout + mover.Stderr);
            Assert.Contains("slots 0-499: map version 4: owned by p2", mover.Stdout, StringComparison.Ordinal);
        }

        ClusterMap stopped;
        using (ClusterDirectory directory = cluster.Directory())
        {
            stopped = (await directory.ReadAsync()).Map!;
        }

        Assert.Equal("p2", stopped.Owner(499).Id);
        Assert.Contains(new SlotRange(500, 999, "p1", "p2", MigrationPhase.Copy), stopped.Ranges);
        Assert.Equal("p1", stopped.Owner(1000).Id);

        // Run again: it resumes the fenced batch first, copies over what is there, and stops the same way.
        (int again, string stdout, string stderr) = await CliProcess.RunAsync(["cluster", "move", "--slots", "0-999", "--to", "p2", "--etcd", cluster.Etcd.Url.ToString(), "--name", cluster.Name]);
        Assert.True(again == 3, $"exit {again}: {stderr}\n{stdout}");
        Assert.Contains("resuming the move of slots 500-999 from p1 to p2", stdout, StringComparison.Ordinal);
        AssertFullTargetMessage(stdout, stderr);

        // Nothing lost: every value reads back (slots 500-999 at p1, fenced but readable; 0-499 at p2), and a slot
        // the move left alone takes a write.
        await using MirrorKvClusterClient auditor = await MirrorKvClusterClient.ConnectAsync(cluster.ClientOptions(cluster.Pairs[1].Secondary));
        foreach ((string key, byte[] value) in written)
        {
            byte[]? read = await auditor.GetAsync(key);
            Assert.True(read is not null && value.AsSpan().SequenceEqual(read), $"{key} (slot {HashSlot.Of(key)}) does not read back as written");
        }

        string untouched = KeysOf(1000, 8191, "after").First();
        await auditor.SetAsync(untouched, "after"u8.ToArray());
        Assert.Equal("after"u8.ToArray(), await auditor.GetAsync(untouched));
    }

    private static void AssertFullTargetMessage(string stdout, string stderr)
    {
        Assert.Contains("error: pair p2's store is full", stderr, StringComparison.Ordinal);
        Assert.Contains("refused the copy of slots 500-999 from p1 with OutOfMemory", stderr, StringComparison.Ordinal);
        Assert.Contains("Nothing is lost", stderr, StringComparison.Ordinal);
        Assert.Contains("--max-memory", stderr, StringComparison.Ordinal);
        Assert.Contains("--eviction allkeys-lru", stderr, StringComparison.Ordinal);
        Assert.Contains("move fewer slots", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stdout + stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", stdout + stderr, StringComparison.Ordinal);
    }

    private static IEnumerable<string> KeysOf(int first, int last, string prefix) =>
        Enumerable.Range(0, int.MaxValue).Select(i => $"{prefix}-{i}").Where(k => HashSlot.Of(k) >= first && HashSlot.Of(k) <= last);
}
