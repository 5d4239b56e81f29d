import { describe, expect, it } from "vitest";
import { resolveGraphEndpoints } from "../../calendar/graph/graph-client.ts";
import { OtjError } from "../../core/errors.ts";

const creds = { tenantId: "contoso.example", clientId: "c", clientSecret: "s" };

function configError(fn: () => unknown): OtjError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(OtjError);
    expect((error as OtjError).code).toBe("OTJ_CONFIG_INVALID");
    return error as OtjError;
  }
  throw new Error("expected OTJ_CONFIG_INVALID");
}

describe("resolveGraphEndpoints", () => {
  it("takes authority, root and scope from graph.cloud", () => {
    expect(resolveGraphEndpoints(creds)).toEqual({
      sdkRoot: "https://graph.microsoft.com",
      wireRoot: null,
      tokenUrl: "https://login.microsoftonline.com/contoso.example/oauth2/v2.0/token",
      scope: "https://graph.microsoft.com/.default",
    });
    expect(resolveGraphEndpoints({ ...creds, cloud: "gcch" })).toMatchObject({
      tokenUrl: "https://login.microsoftonline.us/contoso.example/oauth2/v2.0/token",
      scope: "https://graph.microsoft.us/.default",
    });
    expect(resolveGraphEndpoints({ ...creds, cloud: "dod" }).scope).toBe("https://dod-graph.microsoft.us/.default");
    expect(resolveGraphEndpoints({ ...creds, cloud: "china" })).toMatchObject({
      sdkRoot: "https://microsoftgraph.chinacloudapi.cn",
      tokenUrl: expect.stringMatching(/^https:\/\/login\.chinacloudapi\.cn\//),
    });
  });

  it("keeps the scope of the cloud when baseUrl is overridden; a trailing slash is ignored", () => {
    const e = resolveGraphEndpoints({ ...creds, cloud: "gcch", baseUrl: "http://127.0.0.1:8443/", authorityUrl: "http://localhost:9000/" });
    expect(e).toEqual({
      sdkRoot: "https://graph.microsoft.us",
      wireRoot: "http://127.0.0.1:8443",
      tokenUrl: "http://localhost:9000/contoso.example/oauth2/v2.0/token",
      scope: "https://graph.microsoft.us/.default",
    });
    expect(resolveGraphEndpoints({ ...creds, baseUrl: "https://graph.microsoft.com/" }).wireRoot).toBeNull();
    expect(resolveGraphEndpoints({ ...creds, baseUrl: "https://proxy.example/graph" }).wireRoot).toBe("https://proxy.example/graph");
    expect(resolveGraphEndpoints({ ...creds, baseUrl: "http://[::1]:1234" }).wireRoot).toBe("http://[::1]:1234");
  });

  it("refuses http:// off loopback, /v1.0 in the root, `common` and unknown clouds, naming the key", () => {
    expect(configError(() => resolveGraphEndpoints({ ...creds, baseUrl: "http://graph.example" })).message).toContain("graph.baseUrl");
    expect(configError(() => resolveGraphEndpoints({ ...creds, authorityUrl: "http://login.example" })).message).toContain("graph.authorityUrl");
    configError(() => resolveGraphEndpoints({ ...creds, baseUrl: "https://graph.microsoft.com/v1.0" }));
    configError(() => resolveGraphEndpoints({ ...creds, baseUrl: "not a url" }));
    expect(configError(() => resolveGraphEndpoints({ ...creds, tenantId: "common" })).message).toContain("graph.tenantId");
    expect(configError(() => resolveGraphEndpoints({ ...creds, cloud: "mars" as "global" })).message).toContain("graph.cloud");
  });
});
