import { describeStoreContract } from "./store-contract.ts";

describeStoreContract("pglite");
