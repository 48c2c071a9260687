using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// <c>mirrorkv switchover</c> against a real pair in pair mode while a writer runs: the secondary takes over
/// under epoch 2, the old primary rejoins it, no write fails and every acknowledged write is on the new
/// primary; RESP clients of the old primary are closed, not refused, so that a redis client sends its command
/// again where its sentinels say the primary is; and the refusals an operator meets (the secondary named, an
/// unprotected pair).
/// </summary>
[Collection(nameof(ProcessTests))]
public sealed class SwitchoverProcessTests
{
    [Fact]
    public async Task Switchover_UnderWrites_HandsThePairOver_NoWriteFails_NothingIsLost_AndThePairIsProtectedAgain()
    {
        await using NodeProcess primary = await NodeProcess.StartPrimaryAsync();
        await using NodeProcess secondary = await NodeProcess.StartSecondaryAsync(primary.EndPoint);
        await primary.WaitProtectedAsync();
        await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [primary.EndPoint, secondary.EndPoint] });
        Assert.True(await client.WaitForSecondaryAsync());
        var writes = CheckedWriter.Start(client, "s-");
        await Waits.UntilAsync(() => writes.Acknowledged > 50, "the writer to get going");

        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromMinutes(1), "switchover", primary.EndPoint.ToString());
        Assert.True(exitCode == 0, output);
        Assert.Contains("serves as primary at epoch 2", output, StringComparison.Ordinal);
        Assert.Contains("the pair is protected again", output, StringComparison.Ordinal);

        long after = writes.Acknowledged;
        await Waits.UntilAsync(() => writes.Acknowledged > after + 50, "writes to go on at the new primary");
        await writes.StopAsync();
        Assert.True(writes.Errors.IsEmpty, $"writes failed during the switchover: {string.Join("; ", writes.Errors.Take(5))}");

        NodeStatus now = await MirrorKvAdmin.GetStatusAsync(secondary.EndPoint);
        Assert.Equal((NodeRole.Primary, 2UL, true), (now.Role, now.Epoch, now.Protected));
        NodeStatus old = await MirrorKvAdmin.GetStatusAsync(primary.EndPoint);
        Assert.Equal(NodeRole.Secondary, old.Role);
        await writes.AssertAllReadableAsync(client);
        Assert.Contains("switchover: the secondary holds every write", primary.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Switchover_RespClientsOfTheOldPrimary_AreClosedUnanswered_NotRefused_AndEveryOkIsOnTheNewPrimary()
    {
        await using RespPair pair = await RespPair.StartAsync();

        // INFO's uptime is the process's, as redis's: the old primary rejoins as a new incarnation in the same process.
        (string RunId, long Uptime) before = ("", 0);
        await Waits.UntilAsync(async () => (before = await ServerInfoAsync(pair.PrimaryResp)).Uptime >= 2, "the primary to be up for 2 s", seconds: 30);
        var acknowledged = new ConcurrentDictionary<string, string>();
        var refusals = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();
        Task<bool>[] writers = [.. Enumerable.Range(0, 4).Select(w => Task.Run(() => WriteUntilClosedAsync(pair.PrimaryResp, $"w{w}-", acknowledged, refusals, stop.Token)))];
        await Waits.UntilAsync(() => acknowledged.Count > 200, "the RESP writers to get going");

        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromMinutes(1), "switchover", pair.Primary.EndPoint.ToString());
        Assert.True(exitCode == 0, output);
        await stop.CancelAsync();
        bool[] closed = await Task.WhenAll(writers);

        // Redis clients take an error reply as the command's answer and hand it to the application; a closed
        // connection they answer by asking their sentinels and sending the unanswered command again.
        Assert.True(refusals.IsEmpty, $"the old primary answered {refusals.Count} commands with an error: {string.Join("; ", refusals.Take(3))}");
        Assert.All(closed, Assert.True);
        using var reader = new TcpClient();
        await reader.ConnectAsync(pair.SecondaryResp);
        var lines = new StreamReader(reader.GetStream(), Encoding.ASCII);
        foreach ((string key, string value) in acknowledged)
        {
            Assert.Equal(value, await CallAsync(reader, lines, "GET", key));
        }

        await pair.Secondary.WaitProtectedAsync();
        (string runIdAfter, long uptimeAfter) = await ServerInfoAsync(pair.PrimaryResp);
        Assert.NotEqual(before.RunId, runIdAfter);
        Assert.True(uptimeAfter >= before.Uptime, $"uptime_in_seconds went from {before.Uptime} to {uptimeAfter} when the node rejoined as secondary");
    }

    private static async Task<(string RunId, long Uptime)> ServerInfoAsync(IPEndPoint resp)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(resp);
        await client.GetStream().WriteAsync("*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n"u8.ToArray());
        var lines = new StreamReader(client.GetStream(), Encoding.ASCII);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        string header = await lines.ReadLineAsync(timeout.Token) ?? "";
        Assert.StartsWith("$", header, StringComparison.Ordinal);
        var body = new char[int.Parse(header[1..], System.Globalization.CultureInfo.InvariantCulture)];
        await lines.ReadBlockAsync(body, timeout.Token);
        Dictionary<string, string> fields = new string(body).Split("\r\n").Where(line => line.Contains(':', StringComparison.Ordinal)).Select(line => line.Split(':', 2)).ToDictionary(pair => pair[0], pair => pair[1]);
        return (fields["run_id"], long.Parse(fields["uptime_in_seconds"], System.Globalization.CultureInfo.InvariantCulture));
    }

    // SET after SET on one connection until it closes (true) or the test stops it (false); every reply but +OK is
    // a refusal.
    private static async Task<bool> WriteUntilClosedAsync(IPEndPoint resp, string prefix, ConcurrentDictionary<string, string> acknowledged, ConcurrentQueue<string> refusals, CancellationToken stop)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(resp, stop);
        var lines = new StreamReader(client.GetStream(), Encoding.ASCII);
        for (int i = 0; !stop.IsCancellationRequested; i++)
        {
            string key = prefix + i, value = "v" + i;
            try
            {
                string? reply = await CallAsync(client, lines, "SET", key, value);
                if (reply is null)
                {
                    return true;
                }

                if (reply == "OK")
                {
                    acknowledged[key] = value;
                }
                else
                {
                    refusals.Enqueue(reply);
                }
            }
            catch (IOException)
            {
                return true;
            }
        }

        return false;
    }

    // One command, its reply: a simple string or a bulk's text, "-ERR ..." for an error, null when the connection closed.
    private static async Task<string?> CallAsync(TcpClient client, StreamReader lines, params string[] arguments)
    {
        var request = new StringBuilder().Append('*').Append(arguments.Length).Append("\r\n");
        foreach (string argument in arguments)
        {
            request.Append('$').Append(Encoding.UTF8.GetByteCount(argument)).Append("\r\n").Append(argument).Append("\r\n");
        }

        await client.GetStream().WriteAsync(Encoding.UTF8.GetBytes(request.ToString()));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        string? line = await lines.ReadLineAsync(timeout.Token);
        return line switch
        {
            null => null,
            ['+', .. string text] => text,
            ['$', '-', '1'] => "(nil)",
            ['$', ..] => await lines.ReadLineAsync(timeout.Token),
            _ => line,
        };
    }

    [Fact]
    public async Task Switchover_RefusedWithAReason_WhenNamedTheSecondary_OrWhenThePairIsNotProtected()
    {
        await using NodeProcess primary = await NodeProcess.StartPrimaryAsync();
        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "switchover", primary.EndPoint.ToString());
        Assert.Equal(1, exitCode);
        Assert.Contains("the pair is not protected", output, StringComparison.Ordinal);

        await using NodeProcess secondary = await NodeProcess.StartSecondaryAsync(primary.EndPoint);
        await primary.WaitProtectedAsync();
        (exitCode, output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "switchover", secondary.EndPoint.ToString());
        Assert.Equal(1, exitCode);
        Assert.Contains("not the primary", output, StringComparison.Ordinal);
        Assert.Contains($"its primary is {primary.EndPoint}", output, StringComparison.Ordinal);

        (exitCode, output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "switchover", "nonsense");
        Assert.Equal(2, exitCode);

        // Nothing changed: the same primary, still protected.
        NodeStatus status = await MirrorKvAdmin.GetStatusAsync(primary.EndPoint);
        Assert.Equal((NodeRole.Primary, 1UL, true), (status.Role, status.Epoch, status.Protected));
    }
}
