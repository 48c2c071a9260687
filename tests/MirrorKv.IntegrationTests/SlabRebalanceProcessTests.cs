using MirrorKv.Client;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// The calcification case of issue 16, as a user meets it: two <c>mirrorkv serve --max-memory 16m</c>
/// processes, filled with 100 B values until full, every key deleted, then one 1,000 B value.
/// </summary>
[Collection(nameof(ProcessTests))]
public class SlabRebalanceProcessTests
{
    [Fact]
    public async Task Set_1000BValueAfterFillingWith100BValuesAndDeletingAll_IsStoredOnBothNodes()
    {
        await using NodeProcess primary = await NodeProcess.StartPrimaryAsync("--max-memory", "16m");
        await using NodeProcess secondary = await NodeProcess.StartSecondaryAsync(primary.EndPoint, "--max-memory", "16m");
        await secondary.WaitProtectedAsync();
        await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [primary.EndPoint] });
        Assert.True(await client.WaitForSecondaryAsync());

        int next = -1;
        bool full = false;
        var stored = new System.Collections.Concurrent.ConcurrentBag<string>();
        await Task.WhenAll(Enumerable.Range(0, 32).Select(async _ =>
        {
            int i;
            while (!Volatile.Read(ref full) && (i = Interlocked.Increment(ref next)) < 1_000_000)
            {
                try
                {
                    await client.SetAsync($"small-{i}", new byte[100]);
                    stored.Add($"small-{i}");
                }
                catch (MirrorKvException e) when (e.Error == MirrorKvError.OutOfMemory)
                {
                    Volatile.Write(ref full, true);
                }
            }
        }));
        Assert.True(full, "the store never filled");
        Assert.True(stored.Count > 100_000, $"only {stored.Count} values of 100 B fit 16 MiB");

        await Task.WhenAll(stored.Chunk(stored.Count / 32 + 1).Select(async keys =>
        {
            foreach (string key in keys)
            {
                Assert.True(await client.DeleteAsync(key));
            }
        }));
        Assert.Equal(0UL, (await MirrorKvAdmin.GetStatusAsync(primary.EndPoint)).Entries);

        byte[] large = new byte[1000];
        new Random(16).NextBytes(large);
        await client.SetAsync("large", large);

        Assert.Equal(large, await client.GetAsync("large"));

        // Sync replication: the secondary applied the slab's release and the new entry before the ack, so it
        // serves the value once the primary is gone.
        await primary.KillAsync();
        Assert.Equal(large, await client.GetAsync("large"));
        Assert.DoesNotContain("replication stopped", secondary.Output, StringComparison.Ordinal);
    }
}
