using System.Globalization;
using System.Net;
using System.Text;
using MirrorKv.Client;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// redis-cli against a real pair: two <c>mirrorkv serve --resp-listen</c> processes, the tool run as a process as
/// an operator would. Skipped, with the reason, where redis-cli is not installed.
/// </summary>
[Collection(nameof(ProcessTests))]
public class RespProcessTests
{
    [Fact]
    public async Task RedisCli_GetSetTtlScanInfo_AgainstAPair()
    {
        RedisCli.Require();
        await using RespPair pair = await RespPair.StartAsync();
        Assert.Equal("OK", await RedisCli.RunAsync(pair.PrimaryResp, "SET", "greeting", "hello world"));
        Assert.Equal("hello world", await RedisCli.RunAsync(pair.PrimaryResp, "GET", "greeting"));
        Assert.Equal("OK", await RedisCli.RunAsync(pair.PrimaryResp, "SET", "session:1", "x", "EX", "300"));
        Assert.InRange(int.Parse(await RedisCli.RunAsync(pair.PrimaryResp, "TTL", "session:1"), CultureInfo.InvariantCulture), 298, 300);
        Assert.Equal("-1", await RedisCli.RunAsync(pair.PrimaryResp, "TTL", "greeting"));
        Assert.Equal("-2", await RedisCli.RunAsync(pair.PrimaryResp, "TTL", "missing"));
        for (int i = 0; i < 50; i++)
        {
            await RedisCli.RunAsync(pair.PrimaryResp, "SET", $"user:{i}", new string('u', i * 40));
        }

        string[] scanned = (await RedisCli.RunAsync(pair.PrimaryResp, "--scan", "--pattern", "user:*")).Split('\n');
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"user:{i}").Order(StringComparer.Ordinal), scanned.Order(StringComparer.Ordinal));

        // And the habit SCAN replaces: KEYS, on the secondary too.
        string[] listed = (await RedisCli.RunAsync(pair.SecondaryResp, "KEYS", "user:*")).Split('\n');
        Assert.Equal(scanned.Order(StringComparer.Ordinal), listed.Order(StringComparer.Ordinal));
        Assert.Equal("52", await RedisCli.RunAsync(pair.PrimaryResp, "DBSIZE"));

        string info = await RedisCli.RunAsync(pair.PrimaryResp, "INFO");
        Assert.Contains("role:master", info, StringComparison.Ordinal);
        Assert.Contains("connected_slaves:1", info, StringComparison.Ordinal);
        Assert.Contains("db0:keys=52,", info, StringComparison.Ordinal);
        Assert.Contains($"tcp_port:{pair.PrimaryResp.Port}", info, StringComparison.Ordinal);
        string replica = await RedisCli.RunAsync(pair.SecondaryResp, "INFO", "replication");
        Assert.Contains("role:slave", replica, StringComparison.Ordinal);
        // The primary's RESP port, where redis-cli or a replica-following tool can reach it.
        Assert.Contains($"master_port:{pair.PrimaryResp.Port}", replica, StringComparison.Ordinal);
        Assert.Equal("hello world", await RedisCli.RunAsync(pair.SecondaryResp, "GET", "greeting"));
    }

    [Fact]
    public async Task RedisCli_Write_IsReadOneSidedByMirrorKvClient_FromEitherNode()
    {
        RedisCli.Require();
        await using RespPair pair = await RespPair.StartAsync();
        Assert.Equal("OK", await RedisCli.RunAsync(pair.PrimaryResp, "SET", "from-redis-cli", "written by redis-cli"));
        await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [pair.Primary.EndPoint] });
        Assert.Equal("written by redis-cli", Encoding.UTF8.GetString((await client.GetAsync("from-redis-cli"))!));
        Assert.Equal("written by redis-cli", Encoding.UTF8.GetString((await client.GetAsync("from-redis-cli"))!));
        Assert.True(client.Stats.Reads >= 2, $"the client read through its pointer, one-sided ({client.Stats})");

        // And the other way: a MirrorKvClient write is what redis-cli reads, on both nodes.
        await client.SetAsync("from-client", Encoding.UTF8.GetBytes("written by MirrorKvClient"));
        Assert.Equal("written by MirrorKvClient", await RedisCli.RunAsync(pair.PrimaryResp, "GET", "from-client"));
        Assert.Equal("written by MirrorKvClient", await RedisCli.RunAsync(pair.SecondaryResp, "GET", "from-client"));
    }

    [Fact]
    public async Task RedisCli_WriteToTheSecondary_GetsReadOnly()
    {
        RedisCli.Require();
        await using RespPair pair = await RespPair.StartAsync();
        Assert.Equal("READONLY You can't write against a read only replica.", await RedisCli.RunAsync(pair.SecondaryResp, "SET", "k", "v"));
        Assert.Equal("READONLY You can't write against a read only replica.", await RedisCli.RunAsync(pair.SecondaryResp, "DEL", "k"));
        string role = await RedisCli.RunAsync(pair.SecondaryResp, "ROLE");
        Assert.StartsWith("slave\n127.0.0.1\n", role, StringComparison.Ordinal);
        Assert.Equal("", await RedisCli.RunAsync(pair.PrimaryResp, "GET", "k"));
    }

    [Fact]
    public async Task RedisCli_WithTheNodesSecret_AuthenticatesWithDashA()
    {
        RedisCli.Require();
        string secretFile = Path.Combine(Path.GetTempPath(), $"resp-secret-{Guid.NewGuid():N}");
        const string Secret = "resp-process-test-secret-42";
        await File.WriteAllTextAsync(secretFile, Secret + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(secretFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        try
        {
            var resp = new IPEndPoint(IPAddress.Loopback, Ports.Free());
            await using NodeProcess primary = await NodeProcess.StartPrimaryAsync("--resp-listen", resp.ToString(), "--secret-file", secretFile);
            Assert.StartsWith("NOAUTH", await RedisCli.RunAsync(resp, "GET", "k"), StringComparison.Ordinal);
            Assert.Equal("OK", await RedisCli.RunAsync(resp, "-a", Secret, "--no-auth-warning", "SET", "k", "v"));
            Assert.Equal("v", await RedisCli.RunAsync(resp, "--user", "default", "--pass", Secret, "--no-auth-warning", "GET", "k"));
            // A wrong password: redis-cli reports the failed AUTH on stderr and runs the command unauthenticated.
            Assert.StartsWith("NOAUTH", await RedisCli.RunAsync(resp, "-a", "wrong-secret", "--no-auth-warning", "GET", "k"), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(secretFile);
        }
    }

    [Fact]
    public async Task RespListen_FromTheConfigurationFile_OpensTheRespPort()
    {
        RedisCli.Require();
        var resp = new IPEndPoint(IPAddress.Loopback, Ports.Free());
        string config = Path.Combine(Directory.CreateTempSubdirectory("resp-config").FullName, "node.json");
        await File.WriteAllTextAsync(config, $$"""{ "Node": { "RespListen": "{{resp}}" } }""", TestContext.Current.CancellationToken);
        await using NodeProcess primary = await NodeProcess.StartPrimaryAsync("--config", config);
        Assert.Contains($"resp={resp}", primary.Output, StringComparison.Ordinal);
        Assert.Equal("PONG", await RedisCli.RunAsync(resp, "PING"));
    }

    [Fact]
    public async Task Serve_RespOnANonLoopbackAddressWithoutASecret_IsRefused()
    {
        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "serve", "--listen", "127.0.0.1:0", "--resp-listen", "0.0.0.0:0");
        Assert.Equal(2, exitCode);
        Assert.Contains("--resp-listen 0.0.0.0:0: without a secret the RESP port listens on loopback only", output, StringComparison.Ordinal);
    }
}
