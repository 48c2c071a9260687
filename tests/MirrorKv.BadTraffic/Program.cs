using System.Globalization;
using System.Net;
using MirrorKv.BadTraffic;

// badtraffic <seconds> <stale-epoch> <endpoint>...: every kind of bad traffic at every endpoint at once,
// for the integration test that checks a pair keeps serving its well-behaved clients meanwhile.
if (args.Length < 3 || !int.TryParse(args[0], CultureInfo.InvariantCulture, out int seconds) || !ulong.TryParse(args[1], CultureInfo.InvariantCulture, out ulong staleEpoch))
{
    Console.Error.WriteLine("usage: badtraffic <seconds> <stale-epoch> <host:port>...");
    return 2;
}

var targets = args.Skip(2).Select(IPEndPoint.Parse).ToArray();
var tally = new Tally();
using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
await Task.WhenAll(targets.Select(target => new Attacker(target, staleEpoch, tally, stop.Token).RunAsync()));
Console.Out.WriteLine(tally.ToString());
return 0;
