using System.Diagnostics;
using System.Text.RegularExpressions;
using MirrorKv.Client;

namespace MirrorKv.IntegrationTests;

/// <summary>`mirrorkv serve` on the Generic Host: configuration layers and graceful shutdown.</summary>
[Collection(nameof(ProcessTests))]
public partial class ServeHostingTests
{
    [Fact]
    public async Task Configuration_Layers_FileThenEnvironmentThenCommandLine()
    {
        int fromFile = Ports.Free(), fromEnvironment = Ports.Free(), fromCommandLine = Ports.Free();
        string config = Path.Combine(Directory.CreateTempSubdirectory("mirrorkv-config").FullName, "node.json");
        await File.WriteAllTextAsync(config, $$"""{ "Node": { "Listen": "127.0.0.1:{{fromFile}}", "MaxMemory": "32m", "MaxConnections": 64 } }""", TestContext.Current.CancellationToken);

        string ready = await ReadyLineAsync(config, [], ("MIRRORKV_Node__MaxMemory", "48m"));
        Assert.Matches($@"endpoint=127\.0\.0\.1:{fromFile} .* max-memory=48MiB regions=1", ready);

        ready = await ReadyLineAsync(config, [], ("MIRRORKV_Node__Listen", $"127.0.0.1:{fromEnvironment}"));
        Assert.Matches($@"endpoint=127\.0\.0\.1:{fromEnvironment} .* max-memory=32MiB", ready);

        ready = await ReadyLineAsync(config, ["--listen", $"127.0.0.1:{fromCommandLine}", "--max-memory", "16m"], ("MIRRORKV_Node__Listen", $"127.0.0.1:{fromEnvironment}"));
        Assert.Matches($@"endpoint=127\.0\.0\.1:{fromCommandLine} .* max-memory=16MiB", ready);

        // Without --config, appsettings.json in the working directory is the file layer.
        File.Move(config, Path.Combine(Path.GetDirectoryName(config)!, "appsettings.json"));
        ready = await ReadyLineAsync(null, [], ("MIRRORKV_UNUSED", "1"), Path.GetDirectoryName(config));
        Assert.Matches($@"endpoint=127\.0\.0\.1:{fromFile} .* max-memory=32MiB", ready);
    }

    [Fact]
    public async Task IdleNode_LoadsNeitherOpenSsl_NorTheMetricsExporters()
    {
        // What an idle node maps is its resident floor (docs/benchmarks.md, "Idle and after 1 GiB"): rkeys and the
        // incarnation come from getrandom(2), and the exporters load only with --metrics-listen or OTLP. Each of these
        // was mapped before (libcrypto and the cryptography assembly alone: 5 MB resident).
        await using NodeProcess node = await NodeProcess.StartPrimaryAsync("--resp-listen", $"127.0.0.1:{Ports.Free()}");
        await Task.Delay(TimeSpan.FromSeconds(1), TestContext.Current.CancellationToken);
        string maps = await File.ReadAllTextAsync($"/proc/{node.Pid}/maps", TestContext.Current.CancellationToken);
        Assert.Contains("System.Private.CoreLib.dll", maps, StringComparison.Ordinal);
        foreach (string library in (string[])["libcrypto", "libssl", "System.Security.Cryptography.dll", "OpenTelemetry", "System.Net.HttpListener.dll"])
        {
            Assert.False(maps.Contains(library, StringComparison.Ordinal), $"an idle node mapped {library}");
        }
    }

    [Fact]
    public async Task MaxValueSize_Is16MiBByDefault_AndTakesASize()
    {
        string ready = await ReadyLineAsync(null, ["--listen", $"127.0.0.1:{Ports.Free()}"], ("MIRRORKV_UNUSED", "1"));
        Assert.Contains(" max-value-size=16777216", ready, StringComparison.Ordinal);
        ready = await ReadyLineAsync(null, ["--listen", $"127.0.0.1:{Ports.Free()}", "--max-value-size", "48m"], ("MIRRORKV_UNUSED", "1"));
        Assert.Contains(" max-value-size=50331648", ready, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RegionSize_IsTheDeprecatedNameOfMaxMemory()
    {
        string ready = await ReadyLineAsync(null, ["--listen", $"127.0.0.1:{Ports.Free()}", "--region-size", "24m"], ("MIRRORKV_UNUSED", "1"));
        Assert.Matches(@" max-memory=24MiB regions=1", ready);
        ready = await ReadyLineAsync(null, ["--listen", $"127.0.0.1:{Ports.Free()}"], ("MIRRORKV_Node__RegionSize", "40m"));
        Assert.Matches(@" max-memory=40MiB regions=1", ready);
    }

    [Theory]
    [InlineData("--max-memory 16m --region-size 16m", "--region-size (Node:RegionSize) is the deprecated name of --max-memory")]
    [InlineData("--max-memory 512k", "--max-memory (Node:MaxMemory): must hold at least one slab")]
    [InlineData("--max-memory 65g", "--max-memory (Node:MaxMemory): must be at most 64g")]
    [InlineData("--max-memory lots", "--max-memory (Node:MaxMemory): ")]
    [InlineData("--region-size 0", "--region-size (Node:RegionSize): must hold at least one slab")]
    [InlineData("--max-value-size 64m", "--max-value-size (Node:MaxValueSize): at most 67043328 bytes")]
    [InlineData("--max-value-size big", "--max-value-size (Node:MaxValueSize): ")]
    [InlineData("--max-value-size 0", "--max-value-size (Node:MaxValueSize): at least 1 byte")]
    [InlineData("--max-value-size 40m --max-memory 32m", "MaxValueLength (--max-value-size) 41943040 is too large for this store")]
    public async Task BadMaxMemory_FailsWithOneLineNamingTheOption(string args, string expected)
    {
        (int code, string output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), ["serve", "--listen", "127.0.0.1:0", .. args.Split(' ')]);
        Assert.Equal(2, code);
        Assert.Contains("error: " + expected, output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadValueFromAnyLayer_IsNamedWithItsOptionAndKey()
    {
        string config = Path.Combine(Directory.CreateTempSubdirectory("mirrorkv-config").FullName, "node.json");
        await File.WriteAllTextAsync(config, """{ "Node": { "SlabSize": "3m" } }""", TestContext.Current.CancellationToken);
        (int code, string output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "serve", "--config", config, "--listen", "127.0.0.1:0");
        Assert.Equal(2, code);
        Assert.Contains("SlabSize", output, StringComparison.Ordinal);
        (code, output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "serve", "--config", "/nonexistent/node.json");
        Assert.Equal(2, code);
        Assert.Contains("does not exist", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MisspeltConfigKey_IsWarnedAbout_AndOwnEndPointAsPeer_AndATakenRespPort_AreNamed()
    {
        string config = Path.Combine(Directory.CreateTempSubdirectory("mirrorkv-config").FullName, "node.json");
        await File.WriteAllTextAsync(config, """{ "Node": { "MaxMemry": "64m", "SlabSize": "3m" } }""", TestContext.Current.CancellationToken);
        (int code, string output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "serve", "--config", config, "--listen", "127.0.0.1:0");
        Assert.Equal(2, code);
        Assert.Contains("warning: configuration key Node:MaxMemry is not a setting and is ignored (settings: ", output, StringComparison.Ordinal);

        // A misspelt section is ignored whole: said so, naming the section the settings go under.
        await File.WriteAllTextAsync(config, """{ "Nodes": { "MaxMemory": "64m" }, "Node": { "SlabSize": "3m" }, "Logging": { } }""", TestContext.Current.CancellationToken);
        (code, output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "serve", "--config", config, "--listen", "127.0.0.1:0");
        Assert.Equal(2, code);
        Assert.Contains($"warning: {config}: section Nodes is not read and is ignored (the node's settings go under Node; Logging is the host's)", output, StringComparison.Ordinal);
        Assert.DoesNotContain("section Logging", output, StringComparison.Ordinal);

        string self = $"127.0.0.1:{Ports.Free()}";
        (code, output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "serve", "--listen", self, "--peer", self);
        Assert.Equal(2, code);
        Assert.Contains($"--peer (Node:Peer): {self} is this node's own endpoint; give the other node's", output, StringComparison.Ordinal);

        await using NodeProcess taken = await NodeProcess.StartPrimaryAsync();
        (code, output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "serve", "--listen", $"127.0.0.1:{Ports.Free()}", "--resp-listen", taken.EndPoint.ToString());
        Assert.Equal(2, code);
        Assert.Contains($"cannot listen on {taken.EndPoint} for the RESP port (--resp-listen)", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MistypedChoice_IsTheErrorAndAPointerToHelp_NotTheWholeHelp()
    {
        (int code, string output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "serve", "--role", "primry");
        Assert.Equal(2, code);
        Assert.Contains("Argument 'primry' not recognized. Must be one of:", output, StringComparison.Ordinal);
        Assert.Contains("('mirrorkv serve --help' lists the options)", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Description:", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MalformedConfigFile_AndAnEtcdThatDoesNotAnswer_AreOneLineErrors_NotStackTraces()
    {
        string config = Path.Combine(Directory.CreateTempSubdirectory("mirrorkv-config").FullName, "node.json");
        await File.WriteAllTextAsync(config, """{ "Node": { "MaxMemory": """, TestContext.Current.CancellationToken);
        (int code, string output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "serve", "--config", config, "--listen", "127.0.0.1:0");
        Assert.Equal(2, code);
        Assert.Contains($"error: --config: {config} is not valid JSON: ", output, StringComparison.Ordinal);
        Assert.Contains("LineNumber: ", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);

        // Nothing listens at the coordinator's port: after the start's patience, one line that says what to check.
        int port = Ports.Free();
        (code, output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(60), "serve", "--listen", $"127.0.0.1:{Ports.Free()}", "--coordinator", $"http://127.0.0.1:{port}");
        Assert.Equal(2, code);
        Assert.Contains($"the coordinator did not answer for 10 s: is etcd running at http://127.0.0.1:{port}?", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sigterm_StopsTheNodeGracefully_WithExitCodeZero()
    {
        await using NodeProcess primary = await NodeProcess.StartPrimaryAsync();
        await using (MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [primary.EndPoint] }))
        {
            await client.SetAsync("before-shutdown", "v"u8.ToArray(), TestContext.Current.CancellationToken);
        }

        Assert.Equal(0, await primary.TerminateAsync());
        Assert.Contains("shutting down at LSN 1", primary.Output, StringComparison.Ordinal);
        Assert.Contains("-> Stopped", primary.Output, StringComparison.Ordinal);
        Assert.Contains("stopped at LSN 1: every connection closed, memory released", primary.Output, StringComparison.Ordinal);
    }

    private static async Task<string> ReadyLineAsync(string? config, string[] args, (string Name, string Value) environment, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory };
        string[] configArgs = config is null ? [] : ["--config", config];
        foreach (string arg in new[] { NodeProcess.CliPath(), "serve" }.Concat(configArgs).Concat(args))
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment[environment.Name] = environment.Value;
        using Process process = Process.Start(start)!;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                if (ReadyLine().IsMatch(line))
                {
                    return line;
                }
            }

            throw new InvalidOperationException($"serve exited without a ready line: {await process.StandardError.ReadToEndAsync()}");
        }
        finally
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
    }

    [GeneratedRegex("^ready role=")]
    private static partial Regex ReadyLine();
}
