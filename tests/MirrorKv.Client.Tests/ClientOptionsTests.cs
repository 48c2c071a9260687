using System.Net;
using CsCheck;
using MirrorKv.Client;

namespace MirrorKv.Client.Tests;

/// <summary>
/// The client's options as Validate checks them (each bad value named in the error, each boundary value
/// accepted), and the endpoint list as one configuration string, which must read back what it wrote.
/// </summary>
public class ClientOptionsTests
{
    private static MirrorKvClientOptions Valid => new() { EndPoints = [new IPEndPoint(IPAddress.Loopback, 7400)] };

    [Fact]
    public void Validate_DefaultsWithOneEndPoint_Pass() => Valid.Validate();

    [Theory]
    [InlineData("endpoint port 0", "'127.0.0.1:0' is not an IP or DNS endpoint with a port")]
    [InlineData("ConnectTimeout 0", "ConnectTimeout, RequestTimeout and MaxReconnectDelay must be positive")]
    [InlineData("RequestTimeout negative", "ConnectTimeout, RequestTimeout and MaxReconnectDelay must be positive")]
    [InlineData("MaxReconnectDelay 0", "ConnectTimeout, RequestTimeout and MaxReconnectDelay must be positive")]
    [InlineData("PromotionWait negative", "PromotionWait not negative")]
    [InlineData("HedgeDelay 0", "HedgeDelay and MinHedgeDelay must be positive and below RequestTimeout (1000 ms)")]
    [InlineData("HedgeDelay = RequestTimeout", "HedgeDelay and MinHedgeDelay must be positive and below RequestTimeout (1000 ms)")]
    [InlineData("MinHedgeDelay 0", "HedgeDelay and MinHedgeDelay must be positive")]
    [InlineData("ReadFrom 7", "ReadFrom must be one of Primary, PreferPrimary")]
    [InlineData("TornReadRetries -1", "TornReadRetries must be between 0 and 100; got -1")]
    [InlineData("TornReadRetries 101", "TornReadRetries must be between 0 and 100; got 101")]
    public void Validate_BadOption_ThrowsNamingIt(string bad, string expected)
    {
        MirrorKvClientOptions options = bad switch
        {
            "endpoint port 0" => Valid with { EndPoints = [new IPEndPoint(IPAddress.Loopback, 0)] },
            "ConnectTimeout 0" => Valid with { ConnectTimeout = TimeSpan.Zero },
            "RequestTimeout negative" => Valid with { RequestTimeout = TimeSpan.FromSeconds(-1) },
            "MaxReconnectDelay 0" => Valid with { MaxReconnectDelay = TimeSpan.Zero },
            "PromotionWait negative" => Valid with { PromotionWait = TimeSpan.FromMilliseconds(-1) },
            "HedgeDelay 0" => Valid with { HedgeDelay = TimeSpan.Zero },
            "HedgeDelay = RequestTimeout" => Valid with { HedgeDelay = Valid.RequestTimeout },
            "MinHedgeDelay 0" => Valid with { MinHedgeDelay = TimeSpan.Zero },
            "ReadFrom 7" => Valid with { ReadFrom = (ReadFrom)7 },
            "TornReadRetries -1" => Valid with { TornReadRetries = -1 },
            "TornReadRetries 101" => Valid with { TornReadRetries = 101 },
            _ => throw new ArgumentOutOfRangeException(nameof(bad), bad, null),
        };

        var e = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_BoundaryValues_Pass()
    {
        (Valid with { PromotionWait = TimeSpan.Zero }).Validate();
        (Valid with { TornReadRetries = 0 }).Validate();
        (Valid with { TornReadRetries = 100 }).Validate();
        (Valid with { HedgeDelay = Valid.RequestTimeout - TimeSpan.FromTicks(1) }).Validate();
        (Valid with { EndPoints = [new DnsEndPoint("kv-a.internal", 65535)] }).Validate();
    }

    [Fact]
    public void EndPointList_FormattedThenParsed_IsTheSameList_WithoutDuplicates()
    {
        Gen<int> port = Gen.Int[1, 65535];
        Gen<EndPoint> ipv4 = Gen.Select(Gen.Byte.Array[4], port, (a, p) => (EndPoint)new IPEndPoint(new IPAddress(a), p));
        Gen<EndPoint> ipv6 = Gen.Select(Gen.Byte.Array[16], port, (a, p) => (EndPoint)new IPEndPoint(new IPAddress(a), p));
        Gen<EndPoint> host = Gen.Select(Gen.String[Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789"], 1, 12], port, (h, p) => (EndPoint)new DnsEndPoint($"kv-{h}.internal", p));
        Gen.OneOf(ipv4, ipv6, host).List[1, 8].Sample(list =>
        {
            // Duplicates on purpose: the parser keeps the first of each.
            List<EndPoint> withDuplicates = [.. list, list[0]];
            string text = MirrorKvEndPoints.Format(withDuplicates);
            Assert.Equal([.. list.Distinct()], MirrorKvEndPoints.Parse(text));
            Assert.True(MirrorKvEndPoints.TryParse(text, out _, out string? error), error);
        });
    }
}
