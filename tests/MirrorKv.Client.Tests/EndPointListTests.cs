using System.Net;
using MirrorKv.Client;

namespace MirrorKv.Client.Tests;

/// <summary>The endpoint list as one configuration string, and the options that take it.</summary>
public class EndPointListTests
{
    [Fact]
    public void Parse_MixedList_GivesIpAndDnsEndPoints_InOrder_WithoutDuplicates()
    {
        IReadOnlyList<EndPoint> parsed = MirrorKvEndPoints.Parse(" 10.0.0.5:7400, kv-b.internal:7401,[fd00::5]:7402,10.0.0.5:7400 ");
        Assert.Equal<EndPoint>(
            [new IPEndPoint(IPAddress.Parse("10.0.0.5"), 7400), new DnsEndPoint("kv-b.internal", 7401), new IPEndPoint(IPAddress.Parse("fd00::5"), 7402)],
            parsed);
        Assert.Equal("10.0.0.5:7400,kv-b.internal:7401,[fd00::5]:7402", MirrorKvEndPoints.Format(parsed));
    }

    [Theory]
    [InlineData("", "no endpoint given")]
    [InlineData("kv-a", "'kv-a' is not host:port")]
    [InlineData("::1:7400", "'::1:7400' is not host:port")]
    [InlineData("kv-a:0", "has no valid port")]
    [InlineData("kv-a:70000", "has no valid port")]
    [InlineData("kv-a:7400,,kv-b:7400", "has an empty item")]
    [InlineData("kv a:7400", "neither an IP address nor a host name")]
    [InlineData("[kv-a]:7400", "neither an IP address nor a host name")]
    public void TryParse_BadItem_SaysWhichAndShowsTheFormat(string text, string expected)
    {
        Assert.False(MirrorKvEndPoints.TryParse(text, out _, out string? error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.Contains(MirrorKvEndPoints.Example, error, StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => MirrorKvEndPoints.Parse(text));
    }

    [Fact]
    public void Validate_NoEndPoint_NamesTheOption()
    {
        var e = Assert.Throws<ArgumentException>(() => new MirrorKvClientOptions().Validate());
        Assert.Contains("EndPoints must name at least one node", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Shorthands_AreItemsOfTheList()
    {
        var a = new IPEndPoint(IPAddress.Loopback, 7400);
        var b = new IPEndPoint(IPAddress.Loopback, 7401);
#pragma warning disable CS0618 // The obsolete shorthands must keep working.
        var options = new MirrorKvClientOptions { EndPoints = [a], PrimaryEndPoint = a, SecondaryEndPoint = b };
#pragma warning restore CS0618
        Assert.Equal<EndPoint>([a, b], options.AllEndPoints());
    }
}
