using System.Globalization;
using System.Net;
using System.Text;
using MirrorKv.Client;
using MirrorKv.Testing;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// <c>mirrorkv get|set|del|ttl|scan|info</c> and <c>status --watch</c> run as processes against a real pair
/// (two <c>serve</c> processes, each with a RESP port), as an operator would run them.
/// </summary>
[Collection(nameof(ProcessTests))]
public class OperatorCliTests
{
    [Fact]
    public async Task KeyCommands_AgainstAPair_SetGetTtlScanDelInfo()
    {
        await using RespPair pair = await RespPair.StartAsync();
        string primary = pair.Primary.EndPoint.ToString();
        string secondary = pair.Secondary.EndPoint.ToString();

        Assert.Equal((0, "OK\n"), Run(await CliProcess.RunAsync("set", primary, "greeting", "hello world")));
        Assert.Equal((0, "hello world\n"), Run(await CliProcess.RunAsync("get", primary, "greeting")));

        // Written through the CLI, read one-sided by an application's client.
        await using (MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [pair.Primary.EndPoint] }))
        {
            Assert.Equal("hello world", Encoding.UTF8.GetString((await client.GetAsync("greeting"))!));
            Assert.True(client.Stats.Reads >= 1, client.Stats.ToString());
        }

        // The secondary's own copy, through its RESP port (the write was replicated before "OK").
        Assert.Equal((0, "hello world\n"), Run(await CliProcess.RunAsync("get", $"redis://{pair.SecondaryResp}", "greeting")));
        (int code, string stdout, string stderr) = await CliProcess.RunAsync("get", primary, "absent");
        Assert.Equal((1, ""), (code, stdout));
        Assert.Contains("(not found) absent", stderr, StringComparison.Ordinal);

        Assert.Equal((0, "OK\n"), Run(await CliProcess.RunAsync("set", $"redis://{pair.PrimaryResp}", "session:1", "alice", "--ttl", "10m")));
        (code, stdout, _) = await CliProcess.RunAsync("ttl", $"redis://{pair.PrimaryResp}", "session:1");
        Assert.Equal(0, code);
        Assert.InRange(int.Parse(stdout, CultureInfo.InvariantCulture), 590, 600);
        Assert.Equal((0, "none\n"), Run(await CliProcess.RunAsync("ttl", $"redis://{pair.SecondaryResp}", "greeting")));
        Assert.Equal(1, (await CliProcess.RunAsync("ttl", $"redis://{pair.PrimaryResp}", "absent")).ExitCode);

        // The native port shows a value with a time to live as RESP does: without the expiry prefix it is stored behind.
        Assert.Equal((0, "alice\n"), Run(await CliProcess.RunAsync("get", primary, "session:1")));

        await using (MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [pair.Primary.EndPoint] }))
        {
            for (int i = 0; i < 30; i++)
            {
                await client.SetAsync($"user:{i}", new byte[i * 50]);
            }
        }

        (code, stdout, _) = await CliProcess.RunAsync("scan", $"redis://{pair.SecondaryResp}", "--match", "user:*");
        Assert.Equal(0, code);
        Assert.Equal(Enumerable.Range(0, 30).Select(i => $"user:{i}").Order(StringComparer.Ordinal), Lines(stdout).Order(StringComparer.Ordinal));
        (code, stdout, _) = await CliProcess.RunAsync("scan", $"redis://{pair.PrimaryResp}");
        Assert.Equal(32, Lines(stdout).Length);

        Assert.Equal((0, "1\n"), Run(await CliProcess.RunAsync("del", primary, "greeting")));
        Assert.Equal((1, "0\n"), Run(await CliProcess.RunAsync("del", primary, "greeting")));
        Assert.Equal(1, (await CliProcess.RunAsync("get", $"redis://{pair.SecondaryResp}", "greeting")).ExitCode);

        (code, stdout, _) = await CliProcess.RunAsync("info", secondary);
        Assert.Equal(0, code);
        Assert.Contains("role:secondary\n", stdout, StringComparison.Ordinal);
        Assert.Contains($"peer:{primary}\n", stdout, StringComparison.Ordinal);
        Assert.Contains("entries:31\n", stdout, StringComparison.Ordinal);
        (code, stdout, _) = await CliProcess.RunAsync("info", $"redis://{pair.PrimaryResp}", "--section", "replication");
        Assert.Equal(0, code);
        Assert.Contains("role:master\n", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KeyCommands_Refusals_NameTheCause_WithTheirExitCodes_AndNoStackTrace()
    {
        await using RespPair pair = await RespPair.StartAsync();
        string primary = pair.Primary.EndPoint.ToString();
        var outputs = new List<string>();
        async Task<(int Code, string Stderr)> Refused(params string[] args)
        {
            (int code, string stdout, string stderr) = await CliProcess.RunAsync(args);
            outputs.Add(stdout + stderr);
            return (code, stderr);
        }

        // A secondary refuses writes, on either port, and the refusal names the primary.
        (int code, string stderr) = await Refused("set", pair.Secondary.EndPoint.ToString(), "k", "v");
        Assert.Equal(5, code);
        Assert.Contains($"the primary is {primary}", stderr, StringComparison.Ordinal);
        (code, stderr) = await Refused("del", $"redis://{pair.SecondaryResp}", "k");
        Assert.Equal(5, code);
        Assert.Contains($"the primary is redis://{pair.PrimaryResp}", stderr, StringComparison.Ordinal);
        (code, stderr) = await Refused("get", pair.Secondary.EndPoint.ToString(), "k");
        Assert.Equal(5, code);
        Assert.Contains("redis://", stderr, StringComparison.Ordinal);

        // Nothing listens there.
        (code, stderr) = await Refused("get", Ports.FreeEndPoint().ToString(), "k");
        Assert.Equal(3, code);
        Assert.Contains("Cannot reach", stderr, StringComparison.Ordinal);
        (code, _) = await Refused("scan", $"redis://{Ports.FreeEndPoint()}");
        Assert.Equal(3, code);

        // Bad arguments, and what the native port cannot do.
        (code, stderr) = await Refused("get", "not-an-endpoint", "k");
        Assert.Equal(2, code);
        Assert.Contains("is not host:port", stderr, StringComparison.Ordinal);
        (code, stderr) = await Refused("ttl", primary, "k");
        Assert.Equal(2, code);
        Assert.Contains("needs the node's RESP port", stderr, StringComparison.Ordinal);
        (code, stderr) = await Refused("set", primary, "k", "v", "--ttl", "soon");
        Assert.Equal(2, code);
        Assert.Contains("--ttl: 'soon' is not a duration", stderr, StringComparison.Ordinal);
        (code, _) = await Refused("set", primary, "k", "v", "--ttl", "30s");
        Assert.Equal(2, code);

        Assert.DoesNotContain(outputs, o => o.Contains("   at ", StringComparison.Ordinal) || o.Contains("Exception", StringComparison.Ordinal));
        Assert.Equal(1, (await CliProcess.RunAsync("get", primary, "k")).ExitCode);
    }

    [Fact]
    public async Task AHostThatDropsPackets_IsSaidToBeSo_ByStatusSwitchoverAndServePeer_NotASilentExit()
    {
        // An operator's experiment (iptables DROP on the peer's port): `serve --peer`, `status` and `switchover` ended
        // with exit code 1 and not a word, the connect's own timeout taken for a cancellation.
        using var hole = new BlackHole();
        await using NodeProcess node = await NodeProcess.StartPrimaryAsync();

        (int code, string stdout, string stderr) = await CliProcess.RunAsync("status", hole.EndPoint.ToString(), node.EndPoint.ToString());
        Assert.Equal(1, code);
        Assert.Contains($"{hole.EndPoint}", stdout, StringComparison.Ordinal);
        Assert.Contains("no answer to the connection", stdout + stderr, StringComparison.Ordinal);
        Assert.Contains(stdout.Split('\n'), line => line.StartsWith(node.EndPoint.ToString(), StringComparison.Ordinal) && line.Contains("primary", StringComparison.Ordinal));

        (code, stdout, stderr) = await CliProcess.RunAsync("switchover", hole.EndPoint.ToString());
        Assert.Equal(1, code);
        Assert.Contains("no answer to the connection", stdout + stderr, StringComparison.Ordinal);

        await using CliProcess serve = CliProcess.Start("serve", "--role", "primary", "--listen", Ports.FreeEndPoint().ToString(), "--max-memory", "8m", "--peer", hole.EndPoint.ToString());
        await Waits.UntilAsync(() => serve.Stderr.Contains("does not answer but is not gone", StringComparison.Ordinal), "serve to say that its --peer does not answer and that it asks again", seconds: 15, context: () => serve.Stdout + serve.Stderr);
        Assert.Contains("no answer to the connection", serve.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Set_OnAFullStore_SaysWhichSettingToChange_ExitSix_NothingLost()
    {
        // 1 MiB of 64 KiB slabs: about fifteen 60,000-byte values fit, then the store is full (noeviction).
        await using NodeProcess node = await NodeProcess.StartPrimaryAsync("--max-memory", "1m", "--slab-size", "64k");
        string value = new('v', 60_000);
        int stored = 0;
        (int ExitCode, string Stdout, string Stderr) refused = default;
        for (int i = 0; i < 40; i++)
        {
            (int code, string stdout, string stderr) = await CliProcess.RunAsync("set", node.EndPoint.ToString(), $"k{i}", value);
            if (code != 0)
            {
                refused = (code, stdout, stderr);
                break;
            }

            stored++;
        }

        Assert.InRange(stored, 5, 39);
        Assert.Equal(6, refused.ExitCode);
        Assert.Contains("OutOfMemory", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("--max-memory", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("--eviction allkeys-lru", refused.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", refused.Stdout + refused.Stderr, StringComparison.Ordinal);
        Assert.Equal(value.Length + 1, (await CliProcess.RunAsync("get", node.EndPoint.ToString(), $"k{stored - 1}")).Stdout.Length);
    }

    [Fact]
    public async Task KeyCommands_MissingOrWrongSecret_ExitFour_RightSecret_Served()
    {
        DirectoryInfo dir = Directory.CreateTempSubdirectory("ops-cli-secret");
        string right = Path.Combine(dir.FullName, "right");
        string wrong = Path.Combine(dir.FullName, "wrong");
        await File.WriteAllTextAsync(right, "the operator's secret of this node\n", TestContext.Current.CancellationToken);
        await File.WriteAllTextAsync(wrong, "not the secret of this node at all\n", TestContext.Current.CancellationToken);
        var resp = new IPEndPoint(IPAddress.Loopback, Ports.Free());
        await using NodeProcess node = await NodeProcess.StartPrimaryAsync("--secret-file", right, "--resp-listen", resp.ToString());

        Assert.Equal(0, (await CliProcess.RunAsync("set", node.EndPoint.ToString(), "k", "v", "--secret-file", right)).ExitCode);
        Assert.Equal((0, "v\n"), Run(await CliProcess.RunAsync("get", $"redis://{resp}", "k", "--secret-file", right)));
        foreach (string[] args in new[]
        {
            new[] { "get", node.EndPoint.ToString(), "k" },
            ["get", node.EndPoint.ToString(), "k", "--secret-file", wrong],
            ["get", $"redis://{resp}", "k"],
            ["get", $"redis://{resp}", "k", "--secret-file", wrong],
            ["info", node.EndPoint.ToString(), "--secret-file", wrong],
        })
        {
            (int code, string stdout, string stderr) = await CliProcess.RunAsync(args);
            Assert.True(code == 4, $"{string.Join(' ', args)}: exit {code}\n{stdout}{stderr}");
            Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task StatusWatch_RefreshesEveryInterval_UntilCtrlC_ThenExitsZero()
    {
        // A process started with SIGINT ignored (a background job of a non-interactive shell, nohup-like CI
        // wrappers) passes that on to its children, and then no Ctrl+C can reach the watch.
        if (SigintIgnored())
        {
            Assert.Skip("SIGINT is ignored in this test process (inherited from how it was started), so the watch cannot get Ctrl+C");
        }

        await using RespPair pair = await RespPair.StartAsync();
        await using CliProcess watch = CliProcess.Start("status", "--watch", "--interval", "200ms", pair.Primary.EndPoint.ToString(), pair.Secondary.EndPoint.ToString());
        await Waits.UntilAsync(() => Occurrences(watch.Stdout, "(Ctrl+C stops)") >= 3, $"three refreshes of status --watch:\n{watch.Stdout}{watch.Stderr}", 30);

        // A write shows in a later refresh: the watch reads the nodes again each time.
        await using (MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [pair.Primary.EndPoint] }))
        {
            await client.SetAsync("watched", "v"u8.ToArray());
        }

        await Waits.UntilAsync(() => watch.Stdout.Split("(Ctrl+C stops)")[^1].Contains(" 1 yes", StringComparison.Ordinal), $"a refresh showing the entry:\n{watch.Stdout}", 30);
        await watch.InterruptAsync();
        Assert.Equal(0, await watch.WaitForExitAsync(TimeSpan.FromSeconds(15)));
        Assert.Contains("primary", watch.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", watch.Stderr, StringComparison.Ordinal);
    }

    private static (int, string) Run((int ExitCode, string Stdout, string Stderr) result) => (result.ExitCode, result.Stdout);

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static int Occurrences(string text, string what) => text.Split(what).Length - 1;

    // SigIgn in /proc/self/status is the hex mask of ignored signals; SIGINT is signal 2, bit 1.
    private static bool SigintIgnored()
    {
        string? line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return line is not null && (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & (1UL << 1)) != 0;
    }
}
